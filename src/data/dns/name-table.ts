import { isIPv4 } from 'node:net';
import type { DnsHost, DnsNameSource } from './dns-resolver.ts';

/**
 * The names a sidecar's DNS proxy answers, from Istio's NDS name table (istio-agent's
 * LookupTable source): hostname → IPs, Kubernetes entries with their namespace (the resolver
 * derives `name`, `name.ns`, `name.ns.svc` from the FQDN and the client's namespace), wildcard
 * hosts (`*.example.com`) as given. Replaced whole on every NDS update.
 */
export interface NameTableEntry {
  ips?: string[];
  registry?: string;
  shortname?: string;
  namespace?: string;
  altHosts?: string[];
}

export class NameTable implements DnsNameSource {
  private byHost = new Map<string, DnsHost[]>();
  updates = 0;

  /** Replace the table with an NDS `NameTable` (decoded: `{ table: { host: NameInfo } }`). */
  replace(table: Readonly<Record<string, NameTableEntry>> | undefined): void {
    const next = new Map<string, DnsHost[]>();
    const add = (host: string, e: NameTableEntry): void => {
      const addresses = [...(e.ips ?? [])].sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a)));
      const list = next.get(host) ?? [];
      list.push({ namespace: e.namespace ?? '', addresses, headless: false });
      next.set(host, list);
    };
    for (const [host, e] of Object.entries(table ?? {})) {
      add(host.toLowerCase(), e);
      for (const alt of e.altHosts ?? []) add(alt.toLowerCase(), e);
    }
    this.byHost = next;
    this.updates++;
  }

  hosts(hostname: string): readonly DnsHost[] {
    return this.byHost.get(hostname) ?? [];
  }

  get size(): number {
    return this.byHost.size;
  }
}
