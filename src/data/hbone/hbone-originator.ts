import type { Logger } from '../../lib/log.ts';
import type { SecretProvider } from '../tls/secret-provider.ts';
import type { InternalUpstream } from '../upstream/upstream-connector.ts';
import { CONNECT_ORIGINATE, connectOriginate } from '../waypoint/connect-originate.ts';
import { HbonePool } from './hbone-pool.ts';
import type { HboneCredentials } from './hbone-settings.ts';

/**
 * HBONE origination for a sidecar or a gateway (Istio's `connect_originate` internal listener on
 * HBONE-enabled proxies): endpoints discovery sends as `envoy_internal_address`es of
 * `connect_originate` — ambient pods, or a service's waypoint for an ingress gateway — are reached
 * through an HBONE tunnel presenting the proxy's own certificate (`default`, chained to `ROOTCA`).
 * The proxy's secrets are attached once the proxy exists; `close` ends the pooled connections.
 */
export class HboneOriginator {
  readonly upstreams: ReadonlyMap<string, InternalUpstream>;
  private readonly pool: HbonePool;
  private secrets: SecretProvider | undefined;

  constructor(o: { identity: string; log: Logger; hbonePort?: number }) {
    this.pool = new HbonePool({ log: o.log });
    this.upstreams = new Map([[CONNECT_ORIGINATE, connectOriginate({ identity: o.identity, credentials: () => this.credentials(), pool: this.pool, log: o.log, hbonePort: o.hbonePort })]]);
  }

  attach(secrets: SecretProvider): void {
    this.secrets = secrets;
  }

  credentials(): HboneCredentials | undefined {
    const cert = this.secrets?.getSecret('default');
    const root = this.secrets?.getSecret('ROOTCA');
    if (cert?.kind !== 'certificate' || root?.kind !== 'validation') return undefined;
    return { certChainPem: cert.certChain, privateKeyPem: cert.privateKey, rootCertPem: root.trustedCa };
  }

  close(): void {
    this.pool.close();
  }
}
