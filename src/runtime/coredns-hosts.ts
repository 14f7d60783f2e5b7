import { isIP } from 'node:net';
import type { ConfigResource } from '../api/config-resource.ts';

/**
 * Names the cluster's DNS serves beyond Services: the inline entries of the `hosts` plugin in
 * CoreDNS's Corefile (ConfigMap `coredns` in `kube-system`, key `Corefile`), which is how a
 * Kubernetes user points a name outside the cluster at an address for every pod. `mizzen up`
 * has no cluster DNS server; pods' names come from their hosts files, so these entries are
 * written there too (for apps and proxies alike). Only inline `IP NAME...` lines are read; a
 * hosts file named in the plugin and the other plugins are ignored.
 */
export interface HostEntry {
  ip: string;
  names: string[];
}

export function corednsHosts(configMaps: readonly ConfigResource[]): HostEntry[] {
  const cm = configMaps.find((c) => c.metadata.name === 'coredns' && c.metadata.namespace === 'kube-system');
  const corefile = (cm?.raw as { data?: Record<string, string> } | undefined)?.data?.Corefile;
  return corefile ? parseHostsPlugin(corefile) : [];
}

/** The inline entries of every `hosts { ... }` block of a Corefile. */
export function parseHostsPlugin(corefile: string): HostEntry[] {
  const out: HostEntry[] = [];
  let inHosts = false;
  for (const raw of corefile.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!inHosts) {
      if (/^hosts(\s[^{]*)?\{$/.test(line)) inHosts = true;
      continue;
    }
    if (line === '}') {
      inHosts = false;
      continue;
    }
    const [ip, ...names] = line.split(/\s+/);
    if (ip && isIP(ip) !== 0 && names.length > 0) out.push({ ip, names: names.map((n) => n.toLowerCase()) });
  }
  return out;
}
