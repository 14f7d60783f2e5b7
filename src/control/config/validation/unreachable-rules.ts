import type { HTTPMatchRequest, HTTPRoute, VirtualServiceSpec } from '../../../api/istio/virtual-service.ts';
import type { IssueList } from './issue-list.ts';

/**
 * Warnings for VirtualService rules that can never match: a rule after a catch-all, matches
 * identical to an earlier one, and prefix matches shadowed by a broader earlier prefix.
 */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function matchKey(m: unknown): string {
  if (m && typeof m === 'object' && 'name' in m) {
    const { name: _name, ...rest } = m as Record<string, unknown>;
    return canonical(rest);
  }
  return canonical(m);
}

function routeName(route: { name?: string } | undefined, n: number): string {
  return route?.name ? JSON.stringify(route.name) : `#${n}`;
}

function requestName(m: { name?: string } | undefined, n: number): string {
  return m?.name ? JSON.stringify(m.name) : `#${n}`;
}

interface PrefixMatch {
  route: string;
  match: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  query: Map<string, string>;
  without: Map<string, string>;
}

function exactOrPrefix(sm: { exact?: string; prefix?: string } | undefined): string {
  if (sm?.exact) return `exact:${sm.exact}`;
  if (sm?.prefix) return `prefix:${sm.prefix}`;
  return '';
}

function toPrefixMatch(route: HTTPRoute, m: HTTPMatchRequest, rn: number, mn: number): PrefixMatch | undefined {
  const prefix = m.uri?.prefix;
  if (!prefix) return undefined;
  const map = (o: Record<string, { exact?: string; prefix?: string }> | undefined): Map<string, string> =>
    new Map(Object.entries(o ?? {}).map(([k, v]) => [k, exactOrPrefix(v)]));
  return {
    route: routeName(route, rn),
    match: requestName(m, mn),
    prefix,
    port: m.port ?? 0,
    method: exactOrPrefix(m.method) || 'exact:GET',
    authority: exactOrPrefix(m.authority),
    headers: map(m.headers),
    query: map(m.queryParams),
    without: map(m.withoutHeaders),
  };
}

function mapCovered(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const bv = b.get(k);
    if (bv === undefined) return false;
    if (v !== bv && !v.startsWith(bv)) return false;
  }
  return true;
}

function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix)) return false;
  if (a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return mapCovered(a.headers, b.headers) && mapCovered(a.query, b.query) && mapCovered(a.without, b.without);
}

function analyze<R extends { match?: unknown[]; name?: string }>(kind: string, routes: R[] | undefined, out: IssueList, prefixes?: (route: R, m: unknown, rn: number, mn: number) => PrefixMatch | undefined): void {
  const seen = new Map<string, number>();
  let emptySeen = -1;
  const pm: PrefixMatch[] = [];
  (routes ?? []).forEach((route, rn) => {
    if (!route) return;
    const path = `spec.${kind}[${rn}]`;
    if (!route.match?.length) {
      if (emptySeen >= 0) out.warn(path, `virtualService rule ${routeName(route, rn)} not used (only the last rule can have no matches)`);
      emptySeen = rn;
      return;
    }
    let dups = 0;
    route.match.forEach((m, mn) => {
      const key = matchKey(m);
      const dup = seen.get(key);
      if (dup !== undefined) {
        out.warn(`${path}.match[${mn}]`, `virtualService rule ${routeName(route, rn)} match ${requestName(m as { name?: string }, mn)} is not used (duplicate/overlapping match in rule ${routeName((routes ?? [])[dup], dup)})`);
        dups++;
        return;
      }
      seen.set(key, rn);
      const p = prefixes?.(route, m, rn, mn);
      if (p) pm.push(p);
    });
    if (dups === route.match.length) out.warn(path, `virtualService rule ${routeName(route, rn)} not used (all matches used by prior rules)`);
  });
  for (let i = 0; i < pm.length; i++) {
    for (let j = i + 1; j < pm.length; j++) {
      if (pm[j].prefix === pm[i].prefix) continue;
      if (covered(pm[i], pm[j])) {
        out.warn(`spec.${kind}`, `virtualService rule ${pm[j].route} match ${pm[j].match} of prefix ${pm[j].prefix} is not used (duplicate/overlapping match in rule ${pm[i].match} of prefix ${pm[i].prefix} on ${pm[i].route})`);
      }
    }
  }
}

export function reportUnreachableRules(vs: VirtualServiceSpec, out: IssueList): void {
  analyze('http', vs.http, out, (route, m, rn, mn) => (m ? toPrefixMatch(route, m as HTTPMatchRequest, rn, mn) : undefined));
  analyze('tcp', vs.tcp, out);
  analyze('tls', vs.tls, out);
}
