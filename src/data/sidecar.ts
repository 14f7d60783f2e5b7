import { HboneOriginator } from './hbone/hbone-originator.ts';
import { Proxy, type ProxyOptions } from './proxy.ts';

/**
 * Composition root for `mizzen proxy sidecar`: a Proxy whose node type is `sidecar`, able to originate HBONE
 * (`connect_originate`) to the ambient endpoints discovery sends it when it runs with
 * `ISTIO_META_ENABLE_HBONE=true`.
 */
export function createSidecar(options: Omit<ProxyOptions, 'identity'> & { identity: Omit<ProxyOptions['identity'], 'type'> }): Proxy {
  const id = options.identity;
  const originator = new HboneOriginator({ identity: `spiffe://${id.trustDomain ?? 'cluster.local'}/ns/${id.namespace}/sa/${id.serviceAccount ?? 'default'}`, log: options.logs.component('hbone') });
  const proxy = new Proxy({ ...options, identity: { ...id, type: 'sidecar' }, internalUpstreams: originator.upstreams, onClose: () => originator.close() });
  originator.attach(proxy.secrets);
  return proxy;
}
