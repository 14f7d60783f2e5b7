import { Proxy, type ProxyOptions } from './proxy.ts';

/** Composition root for `mizzen proxy router` (gateways): a Proxy whose node type is `router`. */
export function createRouter(options: Omit<ProxyOptions, 'identity'> & { identity: Omit<ProxyOptions['identity'], 'type'> }): Proxy {
  return new Proxy({ ...options, identity: { ...options.identity, type: 'router' } });
}
