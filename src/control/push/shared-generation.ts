import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { GeneratedResource } from '../generate/generator.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { RegistrySnapshot } from '../registry/service.ts';
import { wantsAutoAllocation } from './auto-allocation.ts';

/**
 * Proxies that the generators cannot tell apart get the same resources: within one push
 * context, generation is memoized per (type URL, requested names, proxy "shape"). The shape is
 * every ProxyInfo field the generators read — type, proxyless generator, namespace, DNS domain,
 * labels, metadata HTTP10 (listeners accept HTTP/1.0), NETWORK and REQUESTED_NETWORK_VIEW (endpoints), DNS_CAPTURE + DNS_AUTO_ALLOCATE, and for listeners/clusters (inbound side) those of the proxy's IPs that are workload
 * or endpoint addresses in this push (others cannot match anything). Sharing the result also
 * shares the resource objects, so the encoder serializes each once for all those proxies.
 * If a generator starts reading another proxy field, it must be added here.
 */
export function proxyShapeKey(proxy: ProxyInfo, typeUrl: string, workloadAddresses?: ReadonlySet<string>): string {
  const labels = Object.keys(proxy.labels)
    .sort()
    .map((k) => `${k}=${proxy.labels[k]}`)
    .join(',');
  let perInstance = '';
  if (!KNOWN_TYPES.has(typeUrl)) {
    perInstance = `|${proxy.id}`;
  } else if (typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster) {
    // Inbound listeners/clusters follow the endpoints at the proxy's IPs; an IP that is no
    // endpoint or workload address in this push cannot change them.
    const ips = workloadAddresses ? proxy.ipAddresses.filter((ip) => workloadAddresses.has(ip)) : [...proxy.ipAddresses];
    perInstance = `|${ips.sort().join(',')}`;
  }
  const http10 = typeUrl === TYPE_URL.listener && proxy.metadata.HTTP10 === '1' ? '|http10' : '';
  // split-horizon EDS: the proxy's network and requested network view (its labels are in the key already)
  const network = typeUrl === TYPE_URL.endpoint && (proxy.metadata.NETWORK !== undefined || proxy.metadata.REQUESTED_NETWORK_VIEW !== undefined) ? `|net=${String(proxy.metadata.NETWORK ?? '')}/${String(proxy.metadata.REQUESTED_NETWORK_VIEW ?? '')}` : '';
  // DNS_CAPTURE + DNS_AUTO_ALLOCATE: ServiceEntry hosts at their auto-allocated addresses (listeners, routes)
  const auto = wantsAutoAllocation(proxy);
  return `${proxy.type}|${proxy.generator ?? ''}|${proxy.namespace}|${proxy.dnsDomain}|${labels}${perInstance}${http10}${network}${auto ? `|auto-${auto}` : ''}`;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set([TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.route]);

export type GenerateFn = (proxy: ProxyInfo, typeUrl: string, names: readonly string[] | undefined) => GeneratedResource[];

/** Wrap a generate function with the per-push memo (create one per push context). */
export function sharedGeneration(generate: GenerateFn, registry?: RegistrySnapshot, maxEntries = 10_000): GenerateFn {
  const memo = new Map<string, GeneratedResource[]>();
  // A name list's part of the key: a short id per distinct name set, found once per list object
  // (streams share interned lists), so a thousand-name subscription is not sorted and joined per proxy.
  const idOfList = new WeakMap<readonly string[], string>();
  const idOfSet = new Map<string, string>();
  const namesKey = (names: readonly string[]): string => {
    let id = idOfList.get(names);
    if (id === undefined) {
      const content = [...names].sort().join('\0');
      id = idOfSet.get(content);
      if (id === undefined) idOfSet.set(content, (id = `#${idOfSet.size}`));
      idOfList.set(names, id);
    }
    return id;
  };
  let addresses: Set<string> | undefined;
  const workloadAddresses = (): Set<string> | undefined => {
    if (!registry) return undefined;
    if (!addresses) {
      addresses = new Set(registry.workloads.map((w) => w.address));
      for (const s of registry.services) for (const p of s.ports) for (const e of registry.endpoints(s.hostname, p.port, s.namespace)) addresses.add(e.address);
    }
    return addresses;
  };
  return (proxy, typeUrl, names) => {
    // Only listeners and clusters read the workload addresses (a scan of every endpoint, once per push).
    const addresses = typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster ? workloadAddresses() : undefined;
    const key = `${typeUrl}\n${proxyShapeKey(proxy, typeUrl, addresses)}\n${names === undefined ? '*' : namesKey(names)}`;
    let out = memo.get(key);
    if (!out) {
      out = generate(proxy, typeUrl, names);
      if (memo.size < maxEntries) memo.set(key, out);
    }
    return out;
  };
}
