import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Operation, Rule, Source } from '../../api/istio/authorization-policy.ts';
import { EXT, type JsonObject } from './envoy-extensions.ts';
import { cidr, conditionPermission, conditionPrincipal, isHttpCondition, namespaceMatcher, principalMatchers, requestPrincipalMatcher, serviceAccountMatcher, valueMatcher, type TrustDomains } from './authz-matchers.ts';

/**
 * AuthorizationPolicy → Envoy RBAC, in the structure of Istio's authz builder: one RBAC filter
 * for DENY policies and one for ALLOW policies (DENY runs first); each rule is a policy
 * `ns[NS]-policy[NAME]-rule[I]` whose permissions are one `andRules` per `to` entry (its fields
 * as `orRules`, then destination `when` conditions) and whose principals are one `andIds` per
 * `from` entry (likewise with source conditions). For TCP (network RBAC), a rule using HTTP-only
 * fields is dropped from ALLOW (it can never match) and has those fields removed in DENY.
 */
export interface RbacFilters {
  deny?: JsonObject;
  allow?: JsonObject;
}

type Matcher = JsonObject;

export function buildRbac(policies: readonly ConfigResource<AuthorizationPolicySpec>[], tcp: boolean, trust?: TrustDomains): RbacFilters {
  const byAction: Record<'ALLOW' | 'DENY', JsonObject> = { ALLOW: {}, DENY: {} };
  const present = { ALLOW: false, DENY: false };
  for (const p of policies) {
    const action = p.spec.action ?? 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY') continue; // AUDIT/CUSTOM: not enforced here
    present[action] = true;
    const ns = p.metadata.namespace ?? 'default';
    const rules = p.spec.rules;
    if (!rules) {
      // No rules: ALLOW matches nothing (Istio's allow-nil-rule), DENY nothing.
      if (action === 'ALLOW') byAction.ALLOW[`ns[${ns}]-policy[${p.metadata.name}]-rule[0]`] = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };
      continue;
    }
    rules.forEach((rule, i) => {
      const built = buildPolicy(rule, tcp, action, ns, trust);
      if (built) byAction[action][`ns[${ns}]-policy[${p.metadata.name}]-rule[${i}]`] = built;
    });
  }
  const out: RbacFilters = {};
  if (present.DENY) out.deny = rbacFilter('DENY', byAction.DENY, tcp);
  if (present.ALLOW) out.allow = rbacFilter('ALLOW', byAction.ALLOW, tcp);
  return out;
}

function rbacFilter(action: string, policies: JsonObject, tcp: boolean): JsonObject {
  const ext = tcp ? EXT.networkRbac : EXT.httpRbac;
  // ALLOW is the proto default and, as in Istio's output, left out.
  const rules: JsonObject = action === 'ALLOW' ? {} : { action };
  if (Object.keys(policies).length > 0) rules.policies = policies;
  const config: JsonObject = { '@type': ext.type, rules };
  if (tcp) config.statPrefix = 'tcp.';
  return { name: ext.name, typedConfig: config };
}

const HTTP_OPERATION: (keyof Operation)[] = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const HTTP_SOURCE: (keyof Source)[] = ['requestPrincipals', 'notRequestPrincipals'];

function has(list: unknown): boolean {
  return Array.isArray(list) && list.length > 0;
}

function buildPolicy(rule: Rule, tcp: boolean, action: 'ALLOW' | 'DENY', ns: string, trust: TrustDomains | undefined): JsonObject | undefined {
  const usesHttp =
    (rule.to ?? []).some((t) => HTTP_OPERATION.some((k) => has(t.operation?.[k]))) ||
    (rule.from ?? []).some((f) => HTTP_SOURCE.some((k) => has(f.source?.[k]))) ||
    (rule.when ?? []).some((c) => isHttpCondition(c.key ?? ''));
  if (tcp && usesHttp && action === 'ALLOW') return undefined;
  const when = (rule.when ?? []).filter((c) => !(tcp && isHttpCondition(c.key ?? '')));
  const whenPerms = when.flatMap(conditionPermission);
  const whenPrincipals = when.flatMap(conditionPrincipal);
  const tos = rule.to && rule.to.length > 0 ? rule.to.map((t) => t.operation ?? {}) : [{}];
  const froms = rule.from && rule.from.length > 0 ? rule.from.map((f) => f.source ?? {}) : [{}];
  return {
    permissions: tos.map((op) => andRules([...operationRules(op, tcp), ...whenPerms])),
    principals: froms.map((src) => andIds([...sourceIds(src, tcp, ns, trust), ...whenPrincipals])),
  };
}

function andRules(rules: Matcher[]): Matcher {
  return { andRules: { rules: rules.length > 0 ? rules : [{ any: true }] } };
}

function andIds(ids: Matcher[]): Matcher {
  return { andIds: { ids: ids.length > 0 ? ids : [{ any: true }] } };
}

/** `[values]` as orRules, `[notValues]` as notRule(orRules). */
function ruleField(values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => Matcher): Matcher[] {
  const out: Matcher[] = [];
  if (has(values)) out.push({ orRules: { rules: values!.map(one) } });
  if (has(notValues)) out.push({ notRule: { orRules: { rules: notValues!.map(one) } } });
  return out;
}

function idField(values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => Matcher | Matcher[]): Matcher[] {
  const out: Matcher[] = [];
  if (has(values)) out.push({ orIds: { ids: values!.flatMap(one) } });
  if (has(notValues)) out.push({ notId: { orIds: { ids: notValues!.flatMap(one) } } });
  return out;
}

function header(name: string, v: string, ignoreCase = false): Matcher {
  return v === '*' ? { header: { name, presentMatch: true } } : { header: { name, stringMatch: valueMatcher(v, ignoreCase) } };
}

function operationRules(op: Operation, tcp: boolean): Matcher[] {
  const out: Matcher[] = [];
  if (!tcp) {
    out.push(...ruleField(op.hosts, op.notHosts, (h) => header(':authority', h, true)));
    out.push(...ruleField(op.methods, op.notMethods, (m) => header(':method', m)));
    out.push(...ruleField(op.paths, op.notPaths, (p) => ({ urlPath: { path: p === '*' ? { safeRegex: { regex: '.+' } } : valueMatcher(p) } })));
  }
  out.push(...ruleField(op.ports, op.notPorts, (p) => ({ destinationPort: Number(p) })));
  return out;
}

function sourceIds(src: Source, tcp: boolean, ns: string, trust: TrustDomains | undefined): Matcher[] {
  const out: Matcher[] = [];
  out.push(...idField(src.serviceAccounts, src.notServiceAccounts, (sa) => serviceAccountMatcher(sa, ns)));
  out.push(...idField(src.principals, src.notPrincipals, (p) => principalMatchers(p, trust)));
  if (!tcp) out.push(...idField(src.requestPrincipals, src.notRequestPrincipals, requestPrincipalMatcher));
  out.push(...idField(src.namespaces, src.notNamespaces, namespaceMatcher));
  out.push(...idField(src.remoteIpBlocks, src.notRemoteIpBlocks, (b) => ({ remoteIp: cidr(b) })));
  out.push(...idField(src.ipBlocks, src.notIpBlocks, (b) => ({ directRemoteIp: cidr(b) })));
  return out;
}

