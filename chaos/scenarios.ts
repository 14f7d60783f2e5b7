/** Every chaos scenario, in the order `npm run chaos` runs them. */
import { certificateRotation, outagePastExpiry } from './certificate-scenarios.ts';
import { fiftyVirtualServices, malformedFlood } from './config-scenarios.ts';
import { controlPlaneFreeze, controlPlaneKill } from './control-plane-scenarios.ts';
import { appKill, clientSidecarKill, serverSidecarKill } from './data-plane-scenarios.ts';
import { idleConnections } from './idle-connections-scenario.ts';
import { rootRotationScenario } from './root-rotation-scenario.ts';
import type { Scenario } from './scenario.ts';

export const SCENARIOS: readonly Scenario[] = [controlPlaneKill, controlPlaneFreeze, certificateRotation, clientSidecarKill, serverSidecarKill, appKill, fiftyVirtualServices, malformedFlood, idleConnections, outagePastExpiry, rootRotationScenario()];
