import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Rule } from '../../api/istio/authorization-policy.ts';
import { EXT, type JsonObject } from './envoy-extensions.ts';
import type { ResolvedExtAuthz } from './ext-authz-providers.ts';

/**
 * AuthorizationPolicy CUSTOM as istiod builds it (authz builder, custom mode): per extension
 * provider, an RBAC filter that only evaluates the CUSTOM rules — as `shadow_rules` (DENY) with
 * stat prefix `istio_ext_authz_`, so a matching rule's name `istio-ext-authz-PROVIDER-ns[..]-
 * policy[..]-rule[i]` lands in dynamic metadata `istio_ext_authz_shadow_effective_policy_id` —
 * followed by the provider's ext_authz filter, enabled only when that metadata starts with
 * `istio-ext-authz-PROVIDER`: the external authorizer sees exactly the requests the CUSTOM
 * policies select. Dry-run CUSTOM policies go to the RBAC filter's enforced `rules` (DENY), as
 * istiod does. A provider that is unknown, invalid, or one of several different providers on one
 * workload (istiod's PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS is off by default) gives an
 * enforced DENY of its non-dry-run rules (`...-deny-due-to-bad-CUSTOM-action`): fail closed.
 * TCP chains get the network RBAC + network ext_authz pair for gRPC providers; HTTP providers
 * have no TCP form and are skipped there.
 */
export interface CustomBuild {
  /** A rule as an RBAC policy (undefined: it can never match on this chain). */
  policy(rule: Rule, ns: string): JsonObject | undefined;
  dryRun(p: ConfigResource<AuthorizationPolicySpec>): boolean;
}

const PREFIX = 'istio-ext-authz';
const STAT_PREFIX = 'istio_ext_authz_';
const BAD = '-deny-due-to-bad-CUSTOM-action';

interface ProviderRules {
  enforced: JsonObject;
  dryRun: JsonObject;
}

export function buildCustomFilters(policies: readonly ConfigResource<AuthorizationPolicySpec>[], tcp: boolean, providers: ReadonlyMap<string, ResolvedExtAuthz> | undefined, b: CustomBuild): JsonObject[] {
  const byProvider = new Map<string, ProviderRules>();
  for (const p of policies) {
    if (p.spec.action !== 'CUSTOM') continue;
    const provider = p.spec.provider?.name ?? '';
    const set = byProvider.get(provider) ?? { enforced: {}, dryRun: {} };
    byProvider.set(provider, set);
    const target = b.dryRun(p) ? set.dryRun : set.enforced;
    const ns = p.metadata.namespace ?? 'default';
    const prefix = provider ? `${PREFIX}-${provider}-` : `${PREFIX}-`;
    const rules = p.spec.rules ?? [];
    if (rules.length === 0) {
      target[`${prefix}ns[${ns}]-policy[${p.metadata.name}]-rule[0]`] = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };
      continue;
    }
    rules.forEach((rule, i) => {
      const built = rule ? b.policy(rule, ns) : undefined;
      if (built) target[`${prefix}ns[${ns}]-policy[${p.metadata.name}]-rule[${i}]`] = built;
    });
  }
  const names = [...byProvider.keys()].sort();
  const out: JsonObject[] = [];
  for (const name of names) {
    const set = byProvider.get(name)!;
    const resolved = names.length > 1 ? undefined : providers?.get(name);
    if (!resolved || resolved.error) {
      out.push(rbac(tcp, { rules: badDeny(set.enforced) }));
      continue;
    }
    const ext = tcp ? resolved.tcp : resolved.http;
    if (!ext) continue; // an HTTP provider on a TCP chain
    const config: JsonObject = { shadowRules: rules(set.enforced), shadowRulesStatPrefix: STAT_PREFIX };
    if (Object.keys(set.dryRun).length > 0) config.rules = rules(set.dryRun);
    out.push(rbac(tcp, config));
    const filter = tcp ? EXT.networkExtAuthz : EXT.extAuthz;
    out.push({ name: filter.name, typedConfig: { ...ext, filterEnabledMetadata: enabledFor(tcp ? EXT.networkRbac.name : EXT.httpRbac.name, name) } });
  }
  return out;
}

function rules(policies: JsonObject): JsonObject {
  return Object.keys(policies).length > 0 ? { action: 'DENY', policies } : { action: 'DENY' };
}

function badDeny(policies: JsonObject): JsonObject {
  const renamed: JsonObject = {};
  for (const [k, v] of Object.entries(policies)) renamed[`${k}${BAD}`] = v;
  return rules(renamed);
}

function rbac(tcp: boolean, config: JsonObject): JsonObject {
  const ext = tcp ? EXT.networkRbac : EXT.httpRbac;
  return { name: ext.name, typedConfig: { '@type': ext.type, ...config, ...(tcp ? { statPrefix: 'tcp.' } : {}) } };
}

/** ext_authz runs only when the provider's RBAC shadow rules matched (its policy-name prefix in metadata). */
function enabledFor(filter: string, provider: string): JsonObject {
  return { filter, path: [{ key: `${STAT_PREFIX}shadow_effective_policy_id` }], value: { stringMatch: { prefix: `${PREFIX}-${provider}` } } };
}
