import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Operation, Rule, Source } from '../../api/istio/authorization-policy.ts';
import { EXT, type JsonObject } from './envoy-extensions.ts';
import { cidr, conditionPermission, conditionPrincipal, isHttpCondition, namespaceMatcher, principalMatchers, requestPrincipalMatcher, serviceAccountMatcher, trustDomainMatcher, valueMatcher, type TrustDomains } from './authz-matchers.ts';
import { containsPathTemplate, envoyPathTemplate } from './path-template.ts';
import { buildCustomFilters } from './authz-custom.ts';
import type { ResolvedExtAuthz } from './ext-authz-providers.ts';

/**
 * AuthorizationPolicy → Envoy RBAC, in the structure of Istio's authz builder: one RBAC filter
 * per action — AUDIT (LOG), DENY, ALLOW, in that order — each rule a policy
 * `ns[NS]-policy[NAME]-rule[I]` whose permissions are one `andRules` per `to` entry (its fields
 * as `orRules`, then destination `when` conditions) and whose principals are one `andIds` per
 * `from` entry (likewise with source conditions). Policies annotated `istio.io/dry-run: true`
 * go to the filter's `shadow_rules`. For TCP (network RBAC), a rule using HTTP-only fields is
 * dropped from ALLOW (it can never match) and has those fields removed otherwise.
 *
 * CUSTOM policies become the RBAC + ext_authz pairs of authz-custom.ts (an unusable provider: DENY
 * of what they select, as istiod). Path templates (`{*}`, `{**}`) become Envoy `uri_template`
 * path matchers, as istiod generates them.
 */
export interface RbacFilters {
  /** CUSTOM policies (RBAC shadow + ext_authz per provider, or DENY); Istio places them before authentication. */
  custom: JsonObject[];
  audit?: JsonObject;
  deny?: JsonObject;
  allow?: JsonObject;
}

type Matcher = JsonObject;
type Action = 'ALLOW' | 'DENY' | 'LOG';

/** The filters in Istio's order, without CUSTOM (which goes before jwt_authn). */
export function rbacFilterList(f: RbacFilters): JsonObject[] {
  return [f.audit, f.deny, f.allow].filter((x): x is JsonObject => x !== undefined);
}

/** Go's strconv.ParseBool, as istiod reads `istio.io/dry-run` (anything else is false). */
export function isDryRun(p: ConfigResource<AuthorizationPolicySpec>): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(p.metadata.annotations?.['istio.io/dry-run'] ?? '');
}

interface RuleSet {
  enforced: JsonObject;
  shadow: JsonObject;
  hasEnforced: boolean;
  hasShadow: boolean;
}

const emptySet = (): RuleSet => ({ enforced: {}, shadow: {}, hasEnforced: false, hasShadow: false });

export function buildRbac(policies: readonly ConfigResource<AuthorizationPolicySpec>[], tcp: boolean, trust?: TrustDomains, extAuthz?: ReadonlyMap<string, ResolvedExtAuthz>): RbacFilters {
  const sets: Record<Action, RuleSet> = { ALLOW: emptySet(), DENY: emptySet(), LOG: emptySet() };
  for (const p of policies) {
    const action = p.spec.action ?? 'ALLOW';
    const ns = p.metadata.namespace ?? 'default';
    const rules = p.spec.rules ?? [];
    if (action === 'CUSTOM') continue;
    const rbacAction: Action = action === 'AUDIT' ? 'LOG' : action === 'DENY' ? 'DENY' : 'ALLOW';
    const set = sets[rbacAction];
    const dry = isDryRun(p);
    const target = dry ? set.shadow : set.enforced;
    if (dry) set.hasShadow = true;
    else set.hasEnforced = true;
    if (rules.length === 0) {
      // No rules: a policy that never matches (ALLOW: allow nothing; DENY: deny nothing), as Istio.
      target[`ns[${ns}]-policy[${p.metadata.name}]-rule[0]`] = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };
      continue;
    }
    rules.forEach((rule, i) => {
      const built = rule ? buildPolicy(rule, tcp, rbacAction, ns, trust) : undefined;
      if (built) target[`ns[${ns}]-policy[${p.metadata.name}]-rule[${i}]`] = built;
    });
  }
  const custom = buildCustomFilters(policies, tcp, extAuthz, { policy: (rule, ns) => buildPolicy(rule, tcp, 'DENY', ns, trust), dryRun: isDryRun });
  const out: RbacFilters = { custom };
  for (const [action, key] of [['LOG', 'audit'], ['DENY', 'deny'], ['ALLOW', 'allow']] as const) {
    const s = sets[action];
    if (!s.hasEnforced && !s.hasShadow) continue;
    out[key] = rbacFilter(action, { rules: s.hasEnforced ? s.enforced : undefined, shadow: s.hasShadow ? s.shadow : undefined }, tcp);
  }
  return out;
}

function rules(action: Action, policies: JsonObject): JsonObject {
  // ALLOW is the proto default and, as in Istio's output, left out; so is an empty policy map.
  const r: JsonObject = action === 'ALLOW' ? {} : { action };
  if (Object.keys(policies).length > 0) r.policies = policies;
  return r;
}

function rbacFilter(action: Action, p: { rules: JsonObject | undefined; shadow: JsonObject | undefined }, tcp: boolean): JsonObject {
  const ext = tcp ? EXT.networkRbac : EXT.httpRbac;
  const config: JsonObject = { '@type': ext.type };
  if (p.rules) config.rules = rules(action, p.rules);
  if (tcp) config.statPrefix = 'tcp.';
  if (p.shadow) {
    config.shadowRules = rules(action, p.shadow);
    config.shadowRulesStatPrefix = action === 'DENY' ? 'istio_dry_run_deny_' : 'istio_dry_run_allow_';
  }
  return { name: ext.name, typedConfig: config };
}

const HTTP_OPERATION: (keyof Operation)[] = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const HTTP_SOURCE: (keyof Source)[] = ['requestPrincipals', 'notRequestPrincipals'];

function has(list: unknown): boolean {
  return Array.isArray(list) && list.length > 0;
}

function buildPolicy(rule: Rule, tcp: boolean, action: Action, ns: string, trust: TrustDomains | undefined): JsonObject | undefined {
  const usesHttp =
    (rule.to ?? []).some((t) => HTTP_OPERATION.some((k) => has(t.operation?.[k]))) ||
    (rule.from ?? []).some((f) => HTTP_SOURCE.some((k) => has(f.source?.[k]))) ||
    (rule.when ?? []).some((c) => isHttpCondition(c.key ?? ''));
  if (tcp && usesHttp && action === 'ALLOW') return undefined;
  const when = (rule.when ?? []).filter((c) => !(tcp && isHttpCondition(c.key ?? '')));
  const whenPerms = when.flatMap(conditionPermission);
  const whenPrincipals = when.flatMap((c) => conditionPrincipal(c, ns));
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
    out.push(...ruleField(op.paths, op.notPaths, pathPermission));
  }
  out.push(...ruleField(op.ports, op.notPorts, (p) => ({ destinationPort: Number(p) })));
  return out;
}

/** A path as Istio matches it: `{*}`/`{**}` templates with Envoy's uri_template, else a string match. */
function pathPermission(p: string): Matcher {
  if (containsPathTemplate(p)) return { uriTemplate: { name: 'uri-template', typedConfig: { '@type': EXT.uriTemplate.type, pathTemplate: envoyPathTemplate(p) } } };
  return { urlPath: { path: p === '*' ? { safeRegex: { regex: '.+' } } : valueMatcher(p) } };
}

function sourceIds(src: Source, tcp: boolean, ns: string, trust: TrustDomains | undefined): Matcher[] {
  const out: Matcher[] = [];
  out.push(...idField(src.serviceAccounts, src.notServiceAccounts, (sa) => serviceAccountMatcher(sa, ns)));
  out.push(...idField(src.principals, src.notPrincipals, (p) => principalMatchers(p, trust)));
  if (!tcp) out.push(...idField(src.requestPrincipals, src.notRequestPrincipals, requestPrincipalMatcher));
  out.push(...idField(src.namespaces, src.notNamespaces, namespaceMatcher));
  out.push(...idField(src.trustDomains, src.notTrustDomains, trustDomainMatcher));
  out.push(...idField(src.remoteIpBlocks, src.notRemoteIpBlocks, (b) => ({ remoteIp: cidr(b) })));
  out.push(...idField(src.ipBlocks, src.notIpBlocks, (b) => ({ directRemoteIp: cidr(b) })));
  return out;
}
