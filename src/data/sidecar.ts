import { ConnectTerminate } from './hbone/connect-terminate.ts';
import { HboneOriginator } from './hbone/hbone-originator.ts';
import type { HboneCredentials } from './hbone/hbone-settings.ts';
import { Proxy, type ProxyOptions } from './proxy.ts';

export interface SidecarOptions extends Omit<ProxyOptions, 'identity'> {
  identity: Omit<ProxyOptions['identity'], 'type'>;
  /**
   * Accept HBONE on this port (15008; 0 picks one in tests), as Istio's sidecars do with
   * `ISTIO_META_ENABLE_HBONE=true`; undefined: none.
   */
  hbonePort?: number;
}

/**
 * Composition root for `mizzen proxy sidecar`: a Proxy whose node type is `sidecar`, able to originate HBONE
 * (`connect_originate`) to the ambient endpoints discovery sends it when it runs with
 * `ISTIO_META_ENABLE_HBONE=true`, and then also to terminate it (`connect_terminate` on 15008, each
 * tunnel handed to the `main_internal` listener discovery sends: the workload's inbound chains),
 * so ztunnel and waypoints reach the pod over HBONE with the client's own identity. The HBONE
 * server starts once the agent has the workload's certificate.
 */
export function createSidecar(options: SidecarOptions): Proxy {
  const id = options.identity;
  const principal = `spiffe://${id.trustDomain ?? 'cluster.local'}/ns/${id.namespace}/sa/${id.serviceAccount ?? 'default'}`;
  const log = options.logs.component('hbone');
  const originator = new HboneOriginator({ identity: principal, log });
  let terminate: ConnectTerminate | undefined;
  let closed = false;
  const proxy = new Proxy({
    ...options,
    identity: { ...id, type: 'sidecar' },
    internalUpstreams: originator.upstreams,
    onClose: () => {
      closed = true;
      originator.close();
      terminate?.close();
    },
  });
  originator.attach(proxy.secrets);
  const port = options.hbonePort;
  if (port !== undefined) {
    const credentials = (): HboneCredentials | undefined => {
      const cert = proxy.secrets.getSecret('default');
      const root = proxy.secrets.getSecret('ROOTCA');
      return cert?.kind === 'certificate' && root?.kind === 'validation' ? { certChainPem: cert.certChain, privateKeyPem: cert.privateKey, rootCertPem: root.trustedCa } : undefined;
    };
    const update = (): void => {
      const c = credentials();
      if (!c || closed) return;
      if (terminate) return terminate.updateCredentials(c);
      terminate = new ConnectTerminate({ credentials: c, listeners: proxy.listeners, log, localPrincipal: principal });
      terminate.listen(port).then(
        (p) => log.info({ port: p }, 'sidecar accepting HBONE'),
        (err: Error) => log.error({ port, err: err.message }, 'cannot accept HBONE (port in use?): ztunnel and waypoints cannot reach this pod'),
      );
    };
    proxy.secrets.onChange(update);
    update();
  }
  return proxy;
}
