import { isIP } from 'node:net';
import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { PushContext } from '../push/push-context.ts';
import type { Service } from '../registry/service.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { GeneratedResource, Generator } from './generator.ts';

/**
 * `type.googleapis.com/istio.networking.nds.v1.NameTable` (istiod's NDS generator and
 * BuildNameTable), which istio-agent asks for when DNS capture is on: one unnamed table of the
 * hostnames the proxy sees, each with the addresses it has for this proxy (VIPs, auto-allocated
 * ServiceEntry addresses when the proxy asks for them; a headless Kubernetes service: its ready
 * endpoints' IPs). Hosts without an address are left out (the agent forwards those upstream).
 * One service per hostname, as the sidecar scope keeps it (the proxy's own namespace first, then
 * Kubernetes); ServiceEntries of one host in one namespace merge their addresses. Kubernetes
 * names carry their short name and namespace, from which the agent answers `name`, `name.ns`
 * and `name.ns.svc` too.
 */
export interface NameInfo {
  ips: string[];
  registry: string;
  shortname?: string;
  namespace?: string;
}

export class NameTableGenerator implements Generator {
  readonly typeUrl = TYPE_URL.nameTable;

  generate(proxy: ProxyInfo, push: PushContext): GeneratedResource[] {
    const table = buildNameTable(proxy, push);
    return [{ name: '', resource: { table } }];
  }
}

export function buildNameTable(proxy: ProxyInfo, push: PushContext): Record<string, NameInfo> {
  const chosen = new Map<string, Service[]>();
  for (const s of push.servicesVisibleTo(proxy)) {
    const have = chosen.get(s.hostname);
    if (!have) chosen.set(s.hostname, [s]);
    else if (have[0]!.namespace === s.namespace && s.registry === have[0]!.registry) have.push(s);
    else if (rank(s, proxy) < rank(have[0]!, proxy)) chosen.set(s.hostname, [s]);
  }
  const table: Record<string, NameInfo> = {};
  for (const [hostname, services] of [...chosen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ips = [...new Set(services.flatMap((s) => addressesOf(s, push)))];
    if (ips.length === 0) continue;
    const s = services[0]!;
    const info: NameInfo = { ips, registry: s.registry === 'Kubernetes' ? 'Kubernetes' : 'External' };
    if (s.registry === 'Kubernetes' && s.name && !hostname.endsWith('.clusterset.local')) {
      info.shortname = s.name;
      info.namespace = s.namespace;
    }
    table[hostname] = info;
  }
  return table;
}

/** Lower wins: a service in the proxy's namespace, then a Kubernetes one, then the rest. */
function rank(s: Service, proxy: ProxyInfo): number {
  return s.namespace === proxy.namespace ? 0 : s.registry === 'Kubernetes' ? 1 : 2;
}

function addressesOf(s: Service, push: PushContext): string[] {
  const vips = s.addresses.filter((a) => isIP(a) !== 0);
  if (vips.length > 0 || s.addresses.length > 0) return vips;
  // headless: a Kubernetes service without a ClusterIP answers with its ready endpoints
  if (s.registry !== 'Kubernetes' || s.ports.length === 0) return [];
  return push.registry.endpoints(s.hostname, s.ports[0]!.port, s.namespace).filter((e) => e.healthy && isIP(e.address) !== 0).map((e) => e.address);
}
