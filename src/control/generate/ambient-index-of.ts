import { buildAmbientIndex, type AmbientIndex } from '../ambient/ambient-index.ts';
import type { PushContext } from '../push/push-context.ts';

/** The push's workload API index, built once per push by the first ztunnel that asks. */
export function ambientIndexOf(push: PushContext): AmbientIndex {
  return push.cached('ambient-index', () => buildAmbientIndex(push.config, push.registry, { rootNamespace: push.mesh.rootNamespace, trustDomain: push.mesh.trustDomain }));
}
