import type { Port } from './port.ts';
import type { ServerTLSSettings } from './tls-settings.ts';

/** networking.istio.io Gateway spec. */
export interface GatewaySpec {
  servers?: Server[];
  selector?: Record<string, string>;
}

export interface Server {
  port?: Port;
  bind?: string;
  hosts?: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}
