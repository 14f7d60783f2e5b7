import type { Logger } from '../lib/log.ts';
import { HbonePool } from './hbone/hbone-pool.ts';
import { HBONE_PORT, type HboneCredentials } from './hbone/hbone-settings.ts';
import { Proxy, type ProxyOptions } from './proxy.ts';
import { CONNECT_ORIGINATE, connectOriginate } from './waypoint/connect-originate.ts';
import { ConnectTerminate } from './hbone/connect-terminate.ts';
import { WorkloadPeers } from './waypoint/workload-peers.ts';
import { systemClock } from '../lib/clock.ts';

export interface WaypointOptions extends Omit<ProxyOptions, 'identity' | 'internalUpstreams'> {
  identity: Omit<ProxyOptions['identity'], 'type'>;
  /** HBONE port (15008; 0 picks one in tests). */
  hbonePort?: number;
  hboneAddress?: string;
  /** Destination ztunnels' HBONE port (15008; tests move it). */
  upstreamHbonePort?: number;
}

/**
 * Composition root for `mizzen proxy waypoint`: the proxy (node type `waypoint`, Envoy xDS from
 * discovery: the internal listener `main_internal` with a filter chain per service VIP and port,
 * `inbound-vip|…` clusters whose endpoints are `envoy_internal_address`es of `connect_originate`)
 * plus the two ends Istio builds from internal listeners: `connect_terminate` (HBONE in on 15008,
 * each tunnel a connection to `main_internal`) and `connect_originate` (HBONE out to the
 * endpoint's ztunnel). The HBONE server starts once the agent has the waypoint's certificate.
 */
export class Waypoint {
  readonly proxy: Proxy;
  private readonly options: WaypointOptions;
  private readonly pool: HbonePool;
  private readonly log: Logger;
  private terminate: ConnectTerminate | undefined;
  private peers: WorkloadPeers | undefined;
  private unsubscribe: (() => void) | undefined;
  hbonePort: number | undefined;

  constructor(options: WaypointOptions) {
    this.options = options;
    this.log = options.logs.component('waypoint');
    this.pool = new HbonePool({ log: this.log });
    const identity = `spiffe://${options.identity.trustDomain ?? 'cluster.local'}/ns/${options.identity.namespace}/sa/${options.identity.serviceAccount}`;
    const internal = new Map([[CONNECT_ORIGINATE, connectOriginate({ identity, credentials: () => this.credentials(), pool: this.pool, log: this.log, hbonePort: options.upstreamHbonePort })]]);
    this.proxy = new Proxy({ ...options, identity: { ...options.identity, type: 'waypoint' }, internalUpstreams: internal, peers: (ip) => this.peers?.peerAt(ip) });
  }

  /** The waypoint's certificate from the proxy's secrets (`default`, `ROOTCA`). */
  credentials(): HboneCredentials | undefined {
    const cert = this.proxy.secrets.getSecret('default');
    const root = this.proxy.secrets.getSecret('ROOTCA');
    if (cert?.kind !== 'certificate' || root?.kind !== 'validation') return undefined;
    return { certChainPem: cert.certChain, privateKeyPem: cert.privateKey, rootCertPem: root.trustedCa };
  }

  async start(): Promise<void> {
    await this.proxy.start();
    this.peers = new WorkloadPeers({ discovery: this.options.discovery, node: this.proxy.node, transport: this.options.xdsTransport, clock: this.options.clock ?? systemClock, log: this.options.logs.component('workload-peers') });
    this.peers.start();
    const credentials = this.credentials() ?? (await new Promise<HboneCredentials>((resolve) => {
      const off = this.proxy.secrets.onChange(() => {
        const c = this.credentials();
        if (c) {
          off();
          resolve(c);
        }
      });
    }));
    const identity = this.options.identity;
    this.terminate = new ConnectTerminate({ credentials, listeners: this.proxy.listeners, log: this.log, localPrincipal: `spiffe://${identity.trustDomain ?? 'cluster.local'}/ns/${identity.namespace}/sa/${identity.serviceAccount}` });
    this.hbonePort = await this.terminate.listen(this.options.hbonePort ?? HBONE_PORT, this.options.hboneAddress);
    this.unsubscribe = this.proxy.secrets.onChange(() => {
      const c = this.credentials();
      if (c) this.terminate?.updateCredentials(c);
    });
    this.log.info({ port: this.hbonePort }, 'waypoint accepting HBONE');
  }

  async drain(graceMs?: number): Promise<void> {
    this.terminate?.close(graceMs ?? 0);
    await this.proxy.drain(graceMs);
    this.close();
  }

  close(): void {
    this.peers?.close();
    this.unsubscribe?.();
    this.terminate?.close();
    this.pool.close();
    this.proxy.close();
  }
}
