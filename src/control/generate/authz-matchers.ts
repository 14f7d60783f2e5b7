import type { Condition } from '../../api/istio/authorization-policy.ts';
import type { JsonObject } from './envoy-extensions.ts';

/**
 * Istio's authorization value syntax turned into Envoy matchers: `*` (present), `pre*`, `*suf`,
 * exact; principals as SPIFFE URIs; request principals `ISS/SUB` against the JWT payload that
 * jwt_authn writes to dynamic metadata (`envoy.filters.http.jwt_authn` → `payload`).
 */
type Matcher = JsonObject;

const JWT_FILTER = 'envoy.filters.http.jwt_authn';
/** The dynamic metadata key jwt_authn stores verified payloads under (see jwt-authn.ts). */
export const JWT_PAYLOAD_KEY = 'payload';

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `*` any non-empty, `pre*` prefix, `*suf` suffix, else exact. */
export function valueMatcher(v: string, ignoreCase = false): JsonObject {
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (v === '*') return { safeRegex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1), ...ic };
  if (v.startsWith('*')) return { suffix: v.slice(1), ...ic };
  return { exact: v, ...ic };
}

export function cidr(block: string): JsonObject {
  const [addr, len] = block.split('/');
  return { addressPrefix: addr, prefixLen: len !== undefined ? Number(len) : addr!.includes(':') ? 128 : 32 };
}

/** The mesh trust domain and its aliases (MeshConfig trustDomainAliases): principals in any are accepted in all. */
export interface TrustDomains {
  domain: string;
  aliases: readonly string[];
}

/**
 * A principal as one or more matchers: an exact principal whose trust domain is the mesh's or
 * one of its aliases becomes one matcher per trust domain (the mesh's first), as Istio does.
 */
export function principalMatchers(p: string, trust: TrustDomains | undefined): Matcher[] {
  const slash = p.indexOf('/');
  const td = slash < 0 ? '' : p.slice(0, slash);
  if (!trust || trust.aliases.length === 0 || p.includes('*') || (td !== trust.domain && !trust.aliases.includes(td))) return [principalMatcher(p)];
  const rest = p.slice(slash);
  return [trust.domain, ...trust.aliases.filter((a) => a !== trust.domain)].map((d) => principalMatcher(`${d}${rest}`));
}

/** Istio principals are `TRUST_DOMAIN/ns/NS/sa/SA`; peer certificates carry `spiffe://` URIs. */
export function principalMatcher(p: string): Matcher {
  if (p === '*') return { authenticated: { principalName: { safeRegex: { regex: '.+' } } } };
  if (p.endsWith('*')) return { authenticated: { principalName: { prefix: `spiffe://${p.slice(0, -1)}` } } };
  if (p.startsWith('*')) return { authenticated: { principalName: { safeRegex: { regex: `spiffe://.*${escapeRegex(p.slice(1))}` } } } };
  return { authenticated: { principalName: { exact: `spiffe://${p}` } } };
}

/** `serviceAccounts`: `ns/sa`, or `sa` in the policy's namespace; any trust domain. */
export function serviceAccountMatcher(sa: string, policyNs: string): Matcher {
  const slash = sa.indexOf('/');
  const ns = slash < 0 ? policyNs : sa.slice(0, slash);
  const name = slash < 0 ? sa : sa.slice(slash + 1);
  return { authenticated: { principalName: { safeRegex: { regex: `spiffe://.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(name)}(/.+)?` } } } };
}

/**
 * `trustDomains`: the peer's SPIFFE trust domain, exact (`spiffe://TD/` prefix) or with a leading
 * or trailing `*` within the trust domain, as Istio generates it.
 */
export function trustDomainMatcher(td: string): Matcher {
  const seg = (s: string): string => escapeRegex(s);
  let m: JsonObject;
  if (td === '*') m = { safeRegex: { regex: 'spiffe://[^/]+/.*' } };
  else if (td.endsWith('*')) m = { safeRegex: { regex: `spiffe://${seg(td.slice(0, -1))}[^/]*/.*` } };
  else if (td.startsWith('*')) m = { safeRegex: { regex: `spiffe://[^/]*${seg(td.slice(1))}/.*` } };
  else m = { prefix: `spiffe://${td}/` };
  return { authenticated: { principalName: m } };
}

export function namespaceMatcher(ns: string): Matcher {
  if (ns === '*') return { authenticated: { principalName: { safeRegex: { regex: '.*/ns/.*/.*' } } } };
  if (ns.endsWith('*')) return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/${escapeRegex(ns.slice(0, -1))}.*/.*` } } } };
  if (ns.startsWith('*')) return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/.*${escapeRegex(ns.slice(1))}/.*` } } } };
  return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/${escapeRegex(ns)}/.*` } } } };
}

function jwtClaim(claim: string, value: JsonObject): Matcher {
  return { metadata: { filter: JWT_FILTER, path: [{ key: JWT_PAYLOAD_KEY }, { key: claim }], value: { stringMatch: value } } };
}

/**
 * `ISS/SUB` (split at the last `/`, since issuers are URLs) against payload.iss and payload.sub,
 * with Istio's wildcards: `*` any; `*SUFFIX` a subject suffix (or `*ISS/SUB`: an issuer suffix);
 * `PREFIX*` an issuer prefix (or `ISS/SUB*`: a subject prefix).
 */
export function requestPrincipalMatcher(v: string): Matcher {
  const any = { safeRegex: { regex: '.+' } };
  const idx = v.lastIndexOf('/');
  const found = idx >= 0;
  const iss = found ? v.slice(0, idx) : v;
  const sub = found ? v.slice(idx + 1) : '';
  let issM: JsonObject;
  let subM: JsonObject;
  if (v === '*') {
    issM = any;
    subM = any;
  } else if (v.startsWith('*')) {
    if (found) {
      issM = iss === '*' ? any : { suffix: iss.slice(1) };
      subM = { exact: sub };
    } else {
      issM = any;
      subM = { suffix: v.slice(1) };
    }
  } else if (v.endsWith('*')) {
    if (found) {
      issM = { exact: iss };
      subM = sub === '*' ? any : { prefix: sub.slice(0, -1) };
    } else {
      issM = { prefix: v.slice(0, -1) };
      subM = any;
    }
  } else {
    issM = { exact: iss };
    subM = { exact: sub };
  }
  return { andIds: { ids: [jwtClaim('iss', issM), jwtClaim('sub', subM)] } };
}

export function isHttpCondition(key: string): boolean {
  return key.startsWith('request.');
}

const HEADER_KEY = /^request\.headers\[(.+)\]$/;
const CLAIM_KEY = /^request\.auth\.claims\[(.+)\]$/;
const EXPERIMENTAL_KEY = /^experimental\.(envoy\.filters\.[^[]+)\[(.+)\]$/;

/** `values` as one `or`, `notValues` as `not(or)`: separate entries, ANDed by the caller (as Istio). */
function field(values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => Matcher, kind: 'rules' | 'ids'): Matcher[] {
  const parts: Matcher[] = [];
  const or = (list: string[]): Matcher => (kind === 'rules' ? { orRules: { rules: list.map(one) } } : { orIds: { ids: list.map(one) } });
  if (values?.length) parts.push(or(values));
  if (notValues?.length) parts.push(kind === 'rules' ? { notRule: or(notValues) } : { notId: or(notValues) });
  return parts;
}

/** A destination-side `when` condition as permissions (none when it is source-side). */
export function conditionPermission(c: Condition): Matcher[] {
  const key = c.key ?? '';
  if (key === 'destination.port') return field(c.values, c.notValues, (v) => ({ destinationPort: Number(v) }), 'rules');
  if (key === 'destination.ip') return field(c.values, c.notValues, (v) => ({ destinationIp: cidr(v) }), 'rules');
  if (key === 'connection.sni') return field(c.values, c.notValues, (v) => ({ requestedServerName: valueMatcher(v) }), 'rules');
  const experimental = EXPERIMENTAL_KEY.exec(key);
  if (experimental) {
    // `experimental.envoy.filters.NAME[KEY]`: dynamic metadata another filter wrote.
    const value = (list: string[]): JsonObject => (list.length === 1 ? { stringMatch: valueMatcher(list[0]!) } : { orMatch: { valueMatchers: list.map((v) => ({ stringMatch: valueMatcher(v) })) } });
    const group = (list: string[]): Matcher => ({ metadata: { filter: experimental[1], path: [{ key: experimental[2] }], value: value(list) } });
    const out: Matcher[] = [];
    if (c.values?.length) out.push(group(c.values));
    if (c.notValues?.length) out.push({ notRule: group(c.notValues) });
    return out;
  }
  return [];
}

/** A source-side `when` condition as principals (none when it is destination-side). `ns`: the policy's namespace. */
export function conditionPrincipal(c: Condition, ns: string): Matcher[] {
  const key = c.key ?? '';
  let one: ((v: string) => Matcher) | undefined;
  if (key === 'source.ip') one = (v) => ({ directRemoteIp: cidr(v) });
  else if (key === 'remote.ip') one = (v) => ({ remoteIp: cidr(v) });
  else if (key === 'source.namespace') one = namespaceMatcher;
  else if (key === 'source.principal') one = principalMatcher;
  else if (key === 'source.serviceAccount') one = (v) => serviceAccountMatcher(v, ns);
  else if (key === 'source.trustDomain') one = trustDomainMatcher;
  else if (key === 'request.auth.principal') one = requestPrincipalMatcher;
  else if (HEADER_KEY.test(key)) {
    const name = HEADER_KEY.exec(key)![1]!;
    one = (v) => (v === '*' ? { header: { name, presentMatch: true } } : { header: { name, stringMatch: valueMatcher(v) } });
  } else if (key === 'request.auth.audiences') one = (v) => jwtClaim('aud', valueMatcher(v));
  else if (key === 'request.auth.presenter') one = (v) => jwtClaim('azp', valueMatcher(v));
  else if (CLAIM_KEY.test(key)) {
    const path = CLAIM_KEY.exec(key)![1]!.split('][');
    one = (v) => ({ metadata: { filter: JWT_FILTER, path: [{ key: JWT_PAYLOAD_KEY }, ...path.map((k) => ({ key: k }))], value: { stringMatch: valueMatcher(v) } } });
  }
  if (!one) return [];
  return field(c.values, c.notValues, one, 'ids');
}
