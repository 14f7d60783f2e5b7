/**
 * Envoy's matching semantics for the simulator: string matchers, header matchers, route
 * matches, virtual host domain selection, and RBAC policies (the subset the generators emit).
 */
type Json = Record<string, any>;

export function stringMatches(m: Json | undefined, value: string | undefined): boolean {
  if (!m) return true;
  if (value === undefined) return false;
  const v = m.ignoreCase ? value.toLowerCase() : value;
  const lc = (s: string): string => (m.ignoreCase ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === lc(m.exact);
  if (m.prefix !== undefined) return v.startsWith(lc(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(lc(m.suffix));
  if (m.contains !== undefined) return v.includes(lc(m.contains));
  if (m.safeRegex) return new RegExp(`^(?:${m.safeRegex.regex})$`).test(value);
  return true;
}

export function headerMatches(h: Json, headers: Readonly<Record<string, string>>): boolean {
  const value = headers[h.name];
  let ok: boolean;
  if (h.presentMatch !== undefined) ok = value !== undefined;
  else if (h.exactMatch !== undefined) ok = value === h.exactMatch;
  else if (h.prefixMatch !== undefined) ok = value !== undefined && value.startsWith(h.prefixMatch);
  else if (h.suffixMatch !== undefined) ok = value !== undefined && value.endsWith(h.suffixMatch);
  else if (h.safeRegexMatch) ok = value !== undefined && new RegExp(`^(?:${h.safeRegexMatch.regex})$`).test(value);
  else if (h.stringMatch) ok = stringMatches(h.stringMatch, value);
  else ok = value !== undefined;
  return h.invertMatch ? !ok : ok;
}

export function routeMatches(match: Json, path: string, headers: Readonly<Record<string, string>>): boolean {
  const [pathOnly, query = ''] = path.split('?', 2) as [string, string?];
  const cs = match.caseSensitive !== false;
  const p = cs ? pathOnly : pathOnly.toLowerCase();
  const norm = (s: string): string => (cs ? s : s.toLowerCase());
  if (match.path !== undefined && p !== norm(match.path)) return false;
  if (match.prefix !== undefined && !p.startsWith(norm(match.prefix))) return false;
  if (match.pathSeparatedPrefix !== undefined) {
    const pre = norm(match.pathSeparatedPrefix);
    if (!(p === pre || p.startsWith(`${pre}/`))) return false;
  }
  if (match.safeRegex && !new RegExp(`^(?:${match.safeRegex.regex})$`, cs ? '' : 'i').test(pathOnly)) return false;
  for (const h of match.headers ?? []) if (!headerMatches(h, headers)) return false;
  const params = new URLSearchParams(query);
  for (const q of match.queryParameters ?? []) {
    const v = params.get(q.name) ?? undefined;
    if (q.presentMatch) {
      if (v === undefined) return false;
    } else if (!stringMatches(q.stringMatch, v)) return false;
  }
  return true;
}

/**
 * Envoy's virtual host selection: exact domain, then longest `*suffix`, then `prefix*`, then `*`;
 * with `ignorePort` (the route config's `ignore_port_in_host_matching`) a `:PORT` is dropped first.
 */
export function selectVirtualHost(vhosts: readonly Json[], host: string, ignorePort = false): Json | undefined {
  let h = host.toLowerCase();
  if (ignorePort) {
    const c = h.lastIndexOf(':');
    if (c > 0 && h.indexOf(']') < c) h = h.slice(0, c);
  }
  for (const vh of vhosts) if (vh.domains.some((d: string) => d.toLowerCase() === h)) return vh;
  let best: Json | undefined;
  let bestLen = -1;
  for (const vh of vhosts) {
    for (const d of vh.domains as string[]) {
      if (d.startsWith('*') && d !== '*' && h.endsWith(d.slice(1).toLowerCase()) && d.length > bestLen) {
        best = vh;
        bestLen = d.length;
      }
    }
  }
  if (best) return best;
  for (const vh of vhosts) for (const d of vh.domains as string[]) if (d.endsWith('*') && d !== '*' && h.startsWith(d.slice(0, -1).toLowerCase())) return vh;
  return vhosts.find((vh) => vh.domains.includes('*'));
}

/** What RBAC sees of a connection/request. */
export interface RbacRequest {
  headers: Readonly<Record<string, string>>;
  path: string;
  destinationPort: number;
  principal?: string;
  sourceIp?: string;
  requestPrincipal?: string;
}

export function cidrContains(c: Json, ip: string | undefined): boolean {
  if (!ip || ip.includes(':') || String(c.addressPrefix).includes(':')) return ip === c.addressPrefix;
  const toInt = (s: string): number => s.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
  const len = c.prefixLen ?? 32;
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(c.addressPrefix) & mask) >>> 0);
}

export function permissionMatches(p: Json, r: RbacRequest): boolean {
  if (p.any) return true;
  if (p.andRules) return p.andRules.rules.every((x: Json) => permissionMatches(x, r));
  if (p.orRules) return p.orRules.rules.some((x: Json) => permissionMatches(x, r));
  if (p.notRule) return !permissionMatches(p.notRule, r);
  if (p.header) return headerMatches(p.header, r.headers);
  if (p.urlPath) return stringMatches(p.urlPath.path, r.path.split('?')[0]);
  if (p.destinationPort !== undefined) return p.destinationPort === r.destinationPort;
  throw new Error(`simulator: unsupported RBAC permission ${JSON.stringify(p)}`);
}

export function principalMatches(p: Json, r: RbacRequest): boolean {
  if (p.any) return true;
  if (p.andIds) return p.andIds.ids.every((x: Json) => principalMatches(x, r));
  if (p.orIds) return p.orIds.ids.some((x: Json) => principalMatches(x, r));
  if (p.notId) return !principalMatches(p.notId, r);
  if (p.authenticated) return r.principal !== undefined && stringMatches(p.authenticated.principalName, r.principal);
  if (p.directRemoteIp) return cidrContains(p.directRemoteIp, r.sourceIp);
  if (p.remoteIp) return cidrContains(p.remoteIp, r.sourceIp);
  if (p.header) return headerMatches(p.header, r.headers);
  if (p.metadata) {
    // jwt_authn's verified payload (`ISS/SUB` request principal) under envoy.filters.http.jwt_authn → payload.
    if (p.metadata.filter !== 'envoy.filters.http.jwt_authn' || !r.requestPrincipal) return false;
    const idx = r.requestPrincipal.lastIndexOf('/');
    let v: unknown = { payload: { iss: r.requestPrincipal.slice(0, idx), sub: r.requestPrincipal.slice(idx + 1) } };
    for (const seg of p.metadata.path as { key: string }[]) v = (v as Record<string, unknown> | undefined)?.[seg.key];
    return typeof v === 'string' && stringMatches(p.metadata.value?.stringMatch, v);
  }
  throw new Error(`simulator: unsupported RBAC principal ${JSON.stringify(p)}`);
}

/** Does an RBAC filter config let the request through? */
export function rbacAllows(config: Json, r: RbacRequest): boolean {
  const rules = config.rules;
  if (!rules) return true;
  const matched = Object.values((rules.policies ?? {}) as Record<string, Json>).some(
    (pol) => pol.permissions.some((p: Json) => permissionMatches(p, r)) && pol.principals.some((p: Json) => principalMatches(p, r)),
  );
  return rules.action === 'DENY' ? !matched : matched;
}
