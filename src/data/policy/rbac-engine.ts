import { asArray, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { FilterRequest } from '../l7/http-filter.ts';
import type { StreamInfo } from '../l7/stream-info.ts';
import { compilePermission, compilePrincipal, type RbacMatch } from './rbac-matchers.ts';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

interface CompiledPolicy {
  name: string;
  permission: RbacMatch;
  principal: RbacMatch;
}

/**
 * A compiled envoy.config.rbac.v3.RBAC (`rules` or `shadow_rules`) as Envoy's RoleBasedAccessControlEngine
 * evaluates it: a policy matches when one of its permissions and one of its principals match;
 * ALLOW allows iff some policy matches, DENY denies iff some policy matches, LOG always allows
 * (and marks a match for the access log). Policies are tried in name order; `matchedPolicy`
 * holds the name of the first match of the last evaluation ('' when none).
 */
export class RbacEngine {
  readonly action: RbacAction;
  private readonly policies: readonly CompiledPolicy[];
  matchedPolicy = '';

  constructor(action: RbacAction, policies: readonly CompiledPolicy[]) {
    this.action = action;
    this.policies = policies;
  }

  /** True when the stream is allowed. */
  allowed(info: StreamInfo, req: FilterRequest | undefined): boolean {
    this.matchedPolicy = '';
    for (const p of this.policies) {
      if (p.permission(info, req) && p.principal(info, req)) {
        this.matchedPolicy = p.name;
        break;
      }
    }
    const matched = this.matchedPolicy !== '';
    if (this.action === 'ALLOW') return matched;
    if (this.action === 'DENY') return !matched;
    return true;
  }
}

export function compileRbacRules(v: unknown, path: string): RbacEngine {
  const o = asObj(v);
  onlyFields(o, path, ['action', 'policies', 'auditLoggingOptions']);
  if (o.auditLoggingOptions !== undefined) reject(`${path}.auditLoggingOptions`, 'RBAC audit loggers are not supported');
  const action = asString(o.action, 'ALLOW');
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') reject(`${path}.action`, `unknown RBAC action ${action}`);
  const map = asObj(o.policies);
  const names = Object.keys(map).sort();
  const policies = names.map((name): CompiledPolicy => {
    const p = `${path}.policies[${name}]`;
    const pol = asObj(map[name]) as Obj;
    onlyFields(pol, p, ['permissions', 'principals', 'condition', 'checkedCondition']);
    if (pol.condition !== undefined) reject(`${p}.condition`, 'CEL conditions are not supported by mizzen proxy');
    if (pol.checkedCondition !== undefined) reject(`${p}.checkedCondition`, 'CEL conditions are not supported by mizzen proxy');
    const perms = asArray(pol.permissions);
    const ids = asArray(pol.principals);
    if (perms.length === 0) reject(`${p}.permissions`, 'a policy needs at least one permission');
    if (ids.length === 0) reject(`${p}.principals`, 'a policy needs at least one principal');
    const permList = perms.map((x, i) => compilePermission(x, `${p}.permissions[${i}]`));
    const idList = ids.map((x, i) => compilePrincipal(x, `${p}.principals[${i}]`));
    return { name, permission: anyOf(permList), principal: anyOf(idList) };
  });
  return new RbacEngine(action, policies);
}

function anyOf(list: RbacMatch[]): RbacMatch {
  if (list.length === 1) return list[0];
  return (info, req) => {
    for (const m of list) if (m(info, req)) return true;
    return false;
  };
}

/** Enforced and shadow engines of one RBAC filter config (HTTP or network). */
export interface RbacConfig {
  /** undefined: no `rules`, nothing is enforced. */
  enforced: RbacEngine | undefined;
  shadow: RbacEngine | undefined;
  shadowPrefix: string;
}

export function compileRbacConfig(o: Obj, path: string, extraFields: readonly string[]): RbacConfig {
  onlyFields(o, path, ['rules', 'matcher', 'shadowRules', 'shadowMatcher', 'shadowRulesStatPrefix', 'rulesStatPrefix', 'trackPerRuleStats', ...extraFields]);
  if (o.matcher !== undefined) reject(`${path}.matcher`, 'RBAC matcher trees (xds.type.matcher) are not supported; use rules');
  if (o.shadowMatcher !== undefined) reject(`${path}.shadowMatcher`, 'RBAC matcher trees (xds.type.matcher) are not supported; use shadow_rules');
  return {
    enforced: o.rules !== undefined ? compileRbacRules(o.rules, `${path}.rules`) : undefined,
    shadow: o.shadowRules !== undefined ? compileRbacRules(o.shadowRules, `${path}.shadowRules`) : undefined,
    shadowPrefix: asString(o.shadowRulesStatPrefix),
  };
}

/** Counters Envoy keeps per RBAC filter (`rbac.allowed`, `rbac.denied`, `rbac.shadow_*`). */
export class RbacStats {
  allowed = 0;
  denied = 0;
  shadowAllowed = 0;
  shadowDenied = 0;
  logged = 0;
}

/**
 * Evaluate shadow then enforced rules; records the shadow result in the filter's dynamic
 * metadata (`shadow_effective_policy_id`, `shadow_engine_result`) as Envoy does. Returns the
 * enforced verdict.
 */
export function evaluateRbac(cfg: RbacConfig, stats: RbacStats, metadataKey: string, info: StreamInfo, req: FilterRequest | undefined): boolean {
  const shadow = cfg.shadow;
  if (shadow) {
    const ok = shadow.allowed(info, req);
    if (ok) stats.shadowAllowed++;
    else stats.shadowDenied++;
    // Envoy merges these keys into the filter's metadata (several RBAC filters share the namespace)
    const prev = info.filterState.get(metadataKey) as Record<string, unknown> | undefined;
    const md: Record<string, unknown> = prev ? { ...prev } : {};
    if (shadow.matchedPolicy !== '') md[`${cfg.shadowPrefix}shadow_effective_policy_id`] = shadow.matchedPolicy;
    md[`${cfg.shadowPrefix}shadow_engine_result`] = ok ? 'allowed' : 'denied';
    info.filterState.set(metadataKey, md);
  }
  const e = cfg.enforced;
  if (!e) return true;
  const ok = e.allowed(info, req);
  if (e.action === 'LOG') {
    if (e.matchedPolicy !== '') {
      stats.logged++;
      info.filterState.set('envoy.common', { access_log_hint: true });
    }
    return true;
  }
  if (ok) stats.allowed++;
  else stats.denied++;
  return ok;
}
