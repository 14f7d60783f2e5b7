import { isIPv4 } from 'node:net';
import type { DnsHost, DnsNameSource } from '../dns/dns-resolver.ts';
import type { WorkloadStore } from './workload-store.ts';

/**
 * ztunnel's DNS names from the workload API: every Service hostname (Kubernetes services,
 * ServiceEntry hosts, their auto-allocated VIPs) with its VIPs on this network; a headless
 * Kubernetes service answers with its endpoints' addresses.
 */
export function workloadDnsNames(store: WorkloadStore, network: () => string, clusterDomain = 'cluster.local'): DnsNameSource {
  return {
    hosts(hostname: string): DnsHost[] {
      const out: DnsHost[] = [];
      const net = network();
      for (const s of store.servicesNamed(hostname)) {
        const vips = s.vips.filter((v) => v.network === net).map((v) => v.ip);
        const headless = vips.length === 0 && hostname.endsWith(`.svc.${clusterDomain}`);
        const addresses = headless ? store.serviceEndpoints(s.key).filter((w) => w.healthy).flatMap((w) => w.ips) : vips;
        out.push({ namespace: s.namespace, addresses: addresses.sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a))), headless });
      }
      return out;
    },
  };
}
