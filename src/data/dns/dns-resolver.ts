import { isIPv4 } from 'node:net';
import { RCODE_OK, TYPE_A, TYPE_AAAA, TYPE_CNAME, type DnsAnswer } from './dns-message.ts';

/**
 * The name lookup of Istio's DNS proxy (zt:src/dns/server.rs find_server/lookup; istio-agent's
 * name table), shared by ztunnel and sidecars: a requested name is tried as given, expanded
 * from the client's point of view into Kubernetes FQDNs (`svc` → `svc.NS.svc.DOMAIN`, `svc.ns`,
 * `svc.ns.svc`, `pod.subdomain[.ns[.svc]]`), and with the client's search domains stripped; each
 * candidate exactly and then as wildcards (`*.example.com`, `*.com`). A match answers with the
 * service's VIPs (a headless Kubernetes service: its endpoints), preferring a service in the
 * client's namespace; a name found by stripping a search domain gets a CNAME first. Anything
 * else (unknown names, record types other than A/AAAA) is forwarded upstream.
 */
export interface DnsHost {
  namespace: string;
  /** VIPs, or endpoint IPs of a headless service. */
  addresses: readonly string[];
  /** A Kubernetes headless service (answered with its endpoints even without VIPs). */
  headless: boolean;
}

export interface DnsNameSource {
  hosts(hostname: string): readonly DnsHost[];
}

export type DnsResolution = { answers: DnsAnswer[]; rcode: number } | 'forward';

export interface DnsClient {
  namespace: string;
}

const TTL = 30;

export class DnsResolver {
  private readonly source: DnsNameSource;
  private readonly domain: string;

  constructor(source: DnsNameSource, clusterDomain = 'cluster.local') {
    this.source = source;
    this.domain = clusterDomain;
  }

  searchDomains(client: DnsClient): string[] {
    return [`${client.namespace}.svc.${this.domain}`, `svc.${this.domain}`, this.domain];
  }

  /** Kubernetes FQDNs a name may stand for, seen from the client's namespace. */
  kubeFqdns(name: string, client: DnsClient): string[] {
    const labels = name.split('.');
    const nsDomain = `${client.namespace}.svc.${this.domain}`;
    switch (labels.length) {
      case 1:
        return [`${name}.${nsDomain}`];
      case 2:
        return [`${name}.svc.${this.domain}`, `${name}.${nsDomain}`];
      case 3:
        return labels[2] === 'svc' ? [`${name}.${this.domain}`] : [`${name}.svc.${this.domain}`];
      case 4:
        return labels[3] === 'svc' ? [`${name}.${this.domain}`] : [];
      default:
        return [];
    }
  }

  private aliases(name: string, client: DnsClient): { name: string; stripped?: string }[] {
    const out: { name: string; stripped?: string }[] = [];
    const seen = new Set<string>();
    const add = (n: string, stripped?: string): void => {
      if (seen.has(n)) return;
      seen.add(n);
      out.push(stripped ? { name: n, stripped } : { name: n });
    };
    add(name);
    for (const f of this.kubeFqdns(name, client)) add(f);
    for (const d of this.searchDomains(client)) {
      if (!name.endsWith(`.${d}`)) continue;
      const stripped = name.slice(0, -d.length - 1);
      add(stripped, stripped);
      for (const f of this.kubeFqdns(stripped, client)) add(f, stripped);
    }
    return out;
  }

  private find(name: string, client: DnsClient): { host: DnsHost; stripped?: string; wildcard: boolean } | undefined {
    for (const alias of this.aliases(name, client)) {
      const labels = alias.name.split('.');
      const candidates = [alias.name, ...labels.slice(1).map((_, i) => `*.${labels.slice(i + 1).join('.')}`)];
      for (const [i, c] of candidates.entries()) {
        const hosts = this.source.hosts(c).filter((h) => h.addresses.length > 0 || h.headless || c.endsWith(`.svc.${this.domain}`));
        if (hosts.length === 0) continue;
        const host = hosts.find((h) => h.namespace === client.namespace) ?? hosts[0]!;
        return { host, ...(alias.stripped ? { stripped: alias.stripped } : {}), wildcard: i > 0 };
      }
    }
    return undefined;
  }

  resolve(name: string, type: number, client: DnsClient): DnsResolution {
    if (type !== TYPE_A && type !== TYPE_AAAA) return 'forward';
    const n = name.toLowerCase().replace(/\.$/, '');
    const found = this.find(n, client);
    if (!found) return 'forward';
    const addresses = found.host.addresses.filter((a) => (type === TYPE_A ? isIPv4(a) : !isIPv4(a)));
    const answers: DnsAnswer[] = [];
    let recordName = n;
    if (addresses.length > 0 && found.stripped && !found.wildcard) {
      answers.push({ name: n, type: TYPE_CNAME, ttl: TTL, data: found.stripped });
      recordName = found.stripped;
    }
    for (const a of shuffle([...addresses])) answers.push({ name: recordName, type, ttl: TTL, data: a });
    return { answers, rcode: RCODE_OK };
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
