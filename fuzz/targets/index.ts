import type { FuzzTarget } from '../engine/fuzz-target.ts';
import { configYaml } from './config-yaml.ts';
import { csr } from './csr.ts';
import { hboneConnect } from './hbone-connect.ts';
import { http1Proxy } from './http1-proxy.ts';
import { http1Request } from './http1-request.ts';
import { http2Proxy } from './http2-proxy.ts';
import { xdsApply } from './xds-apply.ts';

/** Every fuzz target, in the order `npm run fuzz` runs them. */
export const TARGETS: readonly FuzzTarget[] = [http1Request, http1Proxy, http2Proxy, hboneConnect, csr, configYaml, xdsApply];
