import { Proxy, type ProxyOptions } from './proxy.ts';

/** Composition root for `mizzen proxy sidecar`: a Proxy whose node type is `sidecar`. */
export function createSidecar(options: Omit<ProxyOptions, 'identity'> & { identity: Omit<ProxyOptions['identity'], 'type'> }): Proxy {
  return new Proxy({ ...options, identity: { ...options.identity, type: 'sidecar' } });
}
