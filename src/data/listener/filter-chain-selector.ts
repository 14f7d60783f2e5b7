import { plainIp } from '../matchers/cidr.ts';
import type { FilterChainSpec, ListenerSpec } from './listener-config.ts';

/** What is known about a new connection when its filter chain is chosen. */
export interface ConnectionFacts {
  destinationIp: string;
  destinationPort: number;
  serverName: string;
  transportProtocol: string;
  applicationProtocols: readonly string[];
  sourceIp: string;
  sourcePort: number;
}

/**
 * At each criterion keep the chains that specify it and match most specifically; if none do,
 * keep the chains that leave it unset (Envoy's filter chain match order).
 */
function narrow(cands: FilterChainSpec[], specified: (c: FilterChainSpec) => boolean, score: (c: FilterChainSpec) => number): FilterChainSpec[] {
  let best = -1;
  let out: FilterChainSpec[] = [];
  for (const c of cands) {
    if (!specified(c)) continue;
    const s = score(c);
    if (s < 0) continue;
    if (s > best) {
      best = s;
      out = [c];
    } else if (s === best) out.push(c);
  }
  if (out.length > 0) return out;
  return cands.filter((c) => !specified(c));
}

/** As Envoy: the client's protocols are tried in its order; a chain listing an earlier one wins. */
function alpnScore(listed: readonly string[], offered: readonly string[]): number {
  const i = offered.findIndex((p) => listed.includes(p));
  return i < 0 ? -1 : offered.length - i;
}

function serverNameScore(names: readonly string[], sni: string): number {
  let best = -1;
  for (const n of names) {
    if (n === sni) return 10_000;
    if (n.startsWith('*.') && sni.endsWith(n.slice(1))) best = Math.max(best, n.length);
  }
  return best;
}

export function selectFilterChain(l: ListenerSpec, f: ConnectionFacts): FilterChainSpec | undefined {
  let c = l.filterChains as FilterChainSpec[];
  if (c.length === 0) return l.defaultChain;
  c = narrow(c, (x) => x.match.destinationPort !== undefined, (x) => (x.match.destinationPort === f.destinationPort ? 1 : -1));
  const dst = plainIp(f.destinationIp);
  c = narrow(c, (x) => x.match.prefixRanges.length > 0, (x) => Math.max(-1, ...x.match.prefixRanges.filter((r) => r.test(dst)).map((r) => r.prefixLen)));
  c = narrow(c, (x) => x.match.serverNames.length > 0, (x) => serverNameScore(x.match.serverNames, f.serverName.toLowerCase()));
  c = narrow(c, (x) => x.match.transportProtocol !== undefined, (x) => (x.match.transportProtocol === f.transportProtocol ? 1 : -1));
  c = narrow(c, (x) => x.match.applicationProtocols.length > 0, (x) => alpnScore(x.match.applicationProtocols, f.applicationProtocols));
  const src = plainIp(f.sourceIp);
  c = narrow(c, (x) => x.match.directSourcePrefixRanges.length > 0, (x) => Math.max(-1, ...x.match.directSourcePrefixRanges.filter((r) => r.test(src)).map((r) => r.prefixLen)));
  c = narrow(c, (x) => x.match.sourceType !== 'ANY', (x) => {
    const local = src === '127.0.0.1' || src === '::1' || src === plainIp(f.destinationIp);
    return (x.match.sourceType === 'SAME_IP_OR_LOOPBACK') === local ? 1 : -1;
  });
  c = narrow(c, (x) => x.match.sourcePrefixRanges.length > 0, (x) => Math.max(-1, ...x.match.sourcePrefixRanges.filter((r) => r.test(src)).map((r) => r.prefixLen)));
  c = narrow(c, (x) => x.match.sourcePorts.length > 0, (x) => (x.match.sourcePorts.includes(f.sourcePort) ? 1 : -1));
  return c[0] ?? l.defaultChain;
}

/** Whether any chain of the listener depends on sniffed facts. */
export function needsSniff(l: ListenerSpec): boolean {
  return l.sniff;
}
