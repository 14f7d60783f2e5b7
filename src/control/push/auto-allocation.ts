import { isIPv4 } from 'node:net';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';

/**
 * Which auto-allocated addresses a proxy uses (pilot's GetAllAddressesForProxy): a proxy whose
 * node metadata has both DNS_CAPTURE and DNS_AUTO_ALLOCATE (istio-agent's
 * ISTIO_META_DNS_CAPTURE / ISTIO_META_DNS_AUTO_ALLOCATE) sees ServiceEntry hosts without
 * addresses at their auto-allocated VIPs: its DNS proxy answers the names with them (NDS), and
 * its outbound listeners bind them (`240.240.x.y_PORT` instead of a shared `0.0.0.0_PORT`), so
 * two TCP ServiceEntries on one port no longer collide. The IPv6 address only for a proxy that
 * has an IPv6 address. Other proxies see the services unchanged.
 */
export type AutoAllocation = false | 'v4' | 'dual';

function flag(v: unknown): boolean {
  return typeof v === 'string' ? /^(1|t|true)$/i.test(v) : v === true;
}

export function wantsAutoAllocation(proxy: ProxyInfo): AutoAllocation {
  if (!flag(proxy.metadata.DNS_CAPTURE) || !flag(proxy.metadata.DNS_AUTO_ALLOCATE)) return false;
  return proxy.ipAddresses.some((ip) => ip !== '' && !isIPv4(ip)) ? 'dual' : 'v4';
}

/** `services` with the auto-allocated addresses filled in for the hosts that have one. */
export function withAutoAllocatedAddresses(services: readonly Service[], vips: ReadonlyMap<string, [string, string]>, mode: 'v4' | 'dual'): Service[] {
  return services.map((s) => {
    if (s.registry !== 'ServiceEntry' || s.addresses.length > 0) return s;
    const v = vips.get(`${s.namespace}/${s.hostname}`);
    if (!v) return s;
    return { ...s, addresses: mode === 'dual' ? [v[0], v[1]] : [v[0]] };
  });
}
