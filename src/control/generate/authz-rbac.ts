import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Condition, Operation, Rule, Source } from '../../api/istio/authorization-policy.ts';
import { EXT, type JsonObject } from './envoy-extensions.ts';

/**
 * AuthorizationPolicy → Envoy RBAC (as Istio's authz builder): one RBAC filter for DENY policies
 * and one for ALLOW policies, DENY first. Each rule becomes a policy named
 * `ns[NS]-policy[NAME]-rule[I]` whose permissions come from `to` (and destination `when`
 * conditions) and principals from `from` (and source `when` conditions). For TCP (network RBAC)
 * HTTP-only fields make an ALLOW rule match nothing and are dropped from a DENY rule.
 */
export interface RbacFilters {
  deny?: JsonObject;
  allow?: JsonObject;
}

type Matcher = JsonObject;

export function buildRbac(policies: readonly ConfigResource<AuthorizationPolicySpec>[], tcp: boolean): RbacFilters {
  const byAction: Record<'ALLOW' | 'DENY', JsonObject> = { ALLOW: {}, DENY: {} };
  let hasAllow = false;
  let hasDeny = false;
  for (const p of policies) {
    const action = p.spec.action ?? 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY') continue; // AUDIT/CUSTOM: no enforcement here
    if (action === 'ALLOW') hasAllow = true;
    else hasDeny = true;
    const rules = p.spec.rules ?? [];
    rules.forEach((rule, i) => {
      const built = buildPolicy(rule, tcp, action);
      if (built) byAction[action][`ns[${p.metadata.namespace ?? 'default'}]-policy[${p.metadata.name}]-rule[${i}]`] = built;
    });
  }
  const out: RbacFilters = {};
  if (hasDeny) out.deny = rbacFilter('DENY', byAction.DENY, tcp);
  if (hasAllow) out.allow = rbacFilter('ALLOW', byAction.ALLOW, tcp);
  return out;
}

function rbacFilter(action: string, policies: JsonObject, tcp: boolean): JsonObject {
  const ext = tcp ? EXT.networkRbac : EXT.httpRbac;
  const config: JsonObject = { '@type': ext.type, rules: { action, policies } };
  if (tcp) config.statPrefix = 'tcp.';
  return { name: ext.name, typedConfig: config };
}

const HTTP_ONLY_OPERATION: (keyof Operation)[] = ['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts'];
const HTTP_ONLY_SOURCE: (keyof Source)[] = ['requestPrincipals', 'notRequestPrincipals'];

function buildPolicy(rule: Rule, tcp: boolean, action: 'ALLOW' | 'DENY'): JsonObject | undefined {
  const usesHttp =
    (rule.to ?? []).some((t) => HTTP_ONLY_OPERATION.some((k) => (t.operation?.[k] as unknown[] | undefined)?.length)) ||
    (rule.from ?? []).some((f) => HTTP_ONLY_SOURCE.some((k) => (f.source?.[k] as unknown[] | undefined)?.length)) ||
    (rule.when ?? []).some((c) => isHttpCondition(c.key ?? ''));
  if (tcp && usesHttp && action === 'ALLOW') return undefined;
  const perms: Matcher[] = [];
  const toItems = (rule.to ?? []).map((t) => operationPermission(t.operation ?? {}, tcp)).filter((m): m is Matcher => m !== undefined);
  if (toItems.length > 0) perms.push(or(toItems, 'orRules'));
  const principals: Matcher[] = [];
  const fromItems = (rule.from ?? []).map((f) => sourcePrincipal(f.source ?? {}, tcp)).filter((m): m is Matcher => m !== undefined);
  if (fromItems.length > 0) principals.push(or(fromItems, 'orIds'));
  for (const c of rule.when ?? []) {
    if (tcp && isHttpCondition(c.key ?? '')) continue;
    const perm = conditionPermission(c);
    if (perm) perms.push(perm);
    const principal = conditionPrincipal(c);
    if (principal) principals.push(principal);
  }
  return {
    permissions: [perms.length === 0 ? { any: true } : perms.length === 1 ? perms[0] : { andRules: { rules: perms } }],
    principals: [principals.length === 0 ? { any: true } : principals.length === 1 ? principals[0] : { andIds: { ids: principals } }],
  };
}

function or(items: Matcher[], kind: 'orRules' | 'orIds'): Matcher {
  if (items.length === 1) return items[0]!;
  return kind === 'orRules' ? { orRules: { rules: items } } : { orIds: { ids: items } };
}

function and(items: Matcher[], kind: 'andRules' | 'andIds'): Matcher | undefined {
  if (items.length === 0) return undefined;
  if (items.length === 1) return items[0];
  return kind === 'andRules' ? { andRules: { rules: items } } : { andIds: { ids: items } };
}

/** Istio's value syntax: `*` any, `pre*` prefix, `*suf` suffix, else exact. */
export function valueMatcher(v: string, ignoreCase = false): JsonObject {
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (v === '*') return { safeRegex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1), ...ic };
  if (v.startsWith('*')) return { suffix: v.slice(1), ...ic };
  return { exact: v, ...ic };
}

function values(list: string[] | undefined, notList: string[] | undefined, one: (v: string) => Matcher, kind: 'rules' | 'ids'): Matcher[] {
  const out: Matcher[] = [];
  if (list?.length) out.push(kind === 'rules' ? or(list.map(one), 'orRules') : or(list.map(one), 'orIds'));
  if (notList?.length) {
    const inner = kind === 'rules' ? or(notList.map(one), 'orRules') : or(notList.map(one), 'orIds');
    out.push(kind === 'rules' ? { notRule: inner } : { notId: inner });
  }
  return out;
}

function operationPermission(op: Operation, tcp: boolean): Matcher | undefined {
  const parts: Matcher[] = [];
  if (!tcp) {
    parts.push(...values(op.hosts, op.notHosts, (h) => ({ header: { name: ':authority', stringMatch: valueMatcher(h, true) } }), 'rules'));
    parts.push(...values(op.methods, op.notMethods, (m) => ({ header: { name: ':method', stringMatch: { exact: m } } }), 'rules'));
    parts.push(...values(op.paths, op.notPaths, (p) => ({ urlPath: { path: valueMatcher(p) } }), 'rules'));
  }
  parts.push(...values(op.ports, op.notPorts, (p) => ({ destinationPort: Number(p) }), 'rules'));
  return and(parts, 'andRules') ?? { any: true };
}

/** Istio principals are `TRUST_DOMAIN/ns/NS/sa/SA`; certificates carry `spiffe://` URIs. */
function principalMatcher(p: string): Matcher {
  if (p === '*') return { authenticated: { principalName: { safeRegex: { regex: '.+' } } } };
  const m = valueMatcher(p);
  if (m.exact !== undefined) return { authenticated: { principalName: { exact: `spiffe://${p}` } } };
  if (m.prefix !== undefined) return { authenticated: { principalName: { prefix: `spiffe://${m.prefix}` } } };
  return { authenticated: { principalName: m } };
}

function requestPrincipalMatcher(p: string): Matcher {
  return { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: valueMatcher(p) } } };
}

function namespaceMatcher(ns: string): Matcher {
  const escaped = ns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/${ns === '*' ? '[^/]+' : escaped}/.*` } } } };
}

function cidr(block: string): JsonObject {
  const [addr, len] = block.split('/');
  return { addressPrefix: addr, prefixLen: len !== undefined ? Number(len) : addr!.includes(':') ? 128 : 32 };
}

function sourcePrincipal(src: Source, tcp: boolean): Matcher | undefined {
  const parts: Matcher[] = [];
  parts.push(...values(src.principals, src.notPrincipals, principalMatcher, 'ids'));
  if (!tcp) parts.push(...values(src.requestPrincipals, src.notRequestPrincipals, requestPrincipalMatcher, 'ids'));
  parts.push(...values(src.namespaces, src.notNamespaces, namespaceMatcher, 'ids'));
  parts.push(...values(src.ipBlocks, src.notIpBlocks, (b) => ({ directRemoteIp: cidr(b) }), 'ids'));
  parts.push(...values(src.remoteIpBlocks, src.notRemoteIpBlocks, (b) => ({ remoteIp: cidr(b) }), 'ids'));
  return and(parts, 'andIds') ?? { any: true };
}

function isHttpCondition(key: string): boolean {
  return key.startsWith('request.') ;
}

const HEADER_KEY = /^request\.headers\[(.+)\]$/;
const CLAIM_KEY = /^request\.auth\.claims\[(.+)\]$/;

function conditionPermission(c: Condition): Matcher | undefined {
  const key = c.key ?? '';
  if (key === 'destination.port') return values(c.values, c.notValues, (v) => ({ destinationPort: Number(v) }), 'rules').reduce(andReduce('andRules'), undefined);
  if (key === 'destination.ip') return values(c.values, c.notValues, (v) => ({ destinationIp: cidr(v) }), 'rules').reduce(andReduce('andRules'), undefined);
  if (key === 'connection.sni') return values(c.values, c.notValues, (v) => ({ requestedServerName: valueMatcher(v) }), 'rules').reduce(andReduce('andRules'), undefined);
  return undefined;
}

function conditionPrincipal(c: Condition): Matcher | undefined {
  const key = c.key ?? '';
  let one: ((v: string) => Matcher) | undefined;
  if (key === 'source.ip') one = (v) => ({ directRemoteIp: cidr(v) });
  else if (key === 'remote.ip') one = (v) => ({ remoteIp: cidr(v) });
  else if (key === 'source.namespace') one = namespaceMatcher;
  else if (key === 'source.principal') one = principalMatcher;
  else if (key === 'request.auth.principal') one = requestPrincipalMatcher;
  else if (HEADER_KEY.test(key)) {
    const name = HEADER_KEY.exec(key)![1]!.toLowerCase();
    one = (v) => ({ header: { name, stringMatch: valueMatcher(v) } });
  } else if (CLAIM_KEY.test(key) || key === 'request.auth.audiences' || key === 'request.auth.presenter') {
    const path = CLAIM_KEY.test(key) ? CLAIM_KEY.exec(key)![1]! : key;
    one = (v) => ({ metadata: { filter: 'istio_authn', path: [{ key: path }], value: { stringMatch: valueMatcher(v) } } });
  }
  if (!one) return undefined;
  return values(c.values, c.notValues, one, 'ids').reduce(andReduce('andIds'), undefined);
}

function andReduce(kind: 'andRules' | 'andIds') {
  return (acc: Matcher | undefined, m: Matcher): Matcher => (acc === undefined ? m : (and([acc, m], kind) as Matcher));
}
