import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec, Condition, Operation, Rule, Source } from '../../api/istio/authorization-policy.ts';
import type { AuthorizationGroup, AuthorizationMatch, AuthorizationResource, AuthorizationRules, IpMatch, ServiceAccountMatch, StringMatch } from '../../api/workload/workload-types.ts';
import { ipToBase64 } from '../../api/workload/workload-types.ts';

/**
 * AuthorizationPolicy → ztunnel's L4 `istio.security.Authorization`, with istiod's rules
 * (pilot/pkg/serviceregistry/ambient/authorization.go):
 * - policies with targetRef(s) belong to waypoints and are not sent (undefined, no message);
 * - no selector: scope NAMESPACE (GLOBAL in the root namespace); a selector: WORKLOAD_SELECTOR;
 * - only ALLOW and DENY (CUSTOM/AUDIT are refused with a message);
 * - each rule becomes a group: `to` operations → one rule of port matches, `from` sources → one
 *   rule of source matches, each `when` → one rule; HTTP attributes are not enforceable here:
 *   an ALLOW rule using any is dropped whole (more restrictive), a DENY rule keeps its L4 part
 *   (its emptied matches are skipped by ztunnel);
 * - the `istio.io/dry-run` annotation is refused unless dry-run support is on.
 */
export interface AmbientAuthorizationResult {
  authorization?: AuthorizationResource;
  /** Status message (Istio's wording) when the policy is refused or partly enforced. */
  message?: string;
}

const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const L4_WHEN_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);

export function convertAuthorizationPolicy(r: ConfigResource<AuthorizationPolicySpec>, rootNamespace: string, options: { dryRunSupported?: boolean } = {}): AmbientAuthorizationResult {
  const spec = r.spec ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const dryRunValue = r.metadata.annotations?.[DRY_RUN_ANNOTATION];
  const dryRun = dryRunValue !== undefined && /^(1|t|true)$/i.test(dryRunValue);
  if (dryRun && !options.dryRunSupported) {
    return { message: `found policy "${namespace}/${r.metadata.name}" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled` };
  }
  if (spec.targetRef || (spec.targetRefs && spec.targetRefs.length > 0)) return {};
  const action = spec.action ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') return { message: `ztunnel does not support the ${action} action` };
  const scope = spec.selector === undefined ? (namespace === rootNamespace ? 'GLOBAL' : 'NAMESPACE') : 'WORKLOAD_SELECTOR';
  const groups: AuthorizationGroup[] = [];
  const l7 = new Set<string>();
  for (const rule of spec.rules ?? []) {
    const rules = convertRule(action, rule ?? {}, namespace, l7);
    if (rules) groups.push({ rules });
  }
  const authorization: AuthorizationResource = { name: r.metadata.name, namespace, scope, action, groups, ...(dryRun ? { dryRun } : {}) };
  if (l7.size === 0) return { authorization };
  let tail: string;
  if (action === 'DENY' && !hasEffectiveRules(groups)) {
    tail = 'After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. Deploy a waypoint proxy and use a targetRef to enforce this policy.';
  } else if (action === 'DENY') {
    tail = 'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.';
  } else {
    tail = 'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.';
  }
  return { authorization, message: `ztunnel does not support HTTP attributes (found: ${[...l7].sort().join(', ')}). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ${tail}` };
}

function convertRule(action: 'ALLOW' | 'DENY', rule: Rule, ruleNamespace: string, l7Found: Set<string>): AuthorizationRules[] | undefined {
  let l7 = false;
  const toMatches: AuthorizationMatch[] = [];
  for (const to of rule.to ?? []) {
    const op: Operation = to?.operation ?? {};
    for (const f of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const) {
      if ((op[f]?.length ?? 0) > 0) {
        l7 = true;
        l7Found.add(f);
      }
    }
    toMatches.push(compact({ destinationPorts: ports(op.ports), notDestinationPorts: ports(op.notPorts) }));
  }
  const fromMatches: AuthorizationMatch[] = [];
  for (const from of rule.from ?? []) {
    const s: Source = from?.source ?? {};
    for (const f of ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'] as const) {
      if ((s[f]?.length ?? 0) > 0) {
        l7 = true;
        l7Found.add(f);
      }
    }
    fromMatches.push(
      compact({
        sourceIps: ips(s.ipBlocks),
        notSourceIps: ips(s.notIpBlocks),
        namespaces: strings(s.namespaces),
        notNamespaces: strings(s.notNamespaces),
        serviceAccounts: serviceAccounts(s.serviceAccounts, ruleNamespace),
        notServiceAccounts: serviceAccounts(s.notServiceAccounts, ruleNamespace),
        principals: strings(s.principals),
        notPrincipals: strings(s.notPrincipals),
      }),
    );
  }
  const rules: AuthorizationRules[] = [];
  if (toMatches.length > 0) rules.push({ matches: toMatches });
  if (fromMatches.length > 0) rules.push({ matches: fromMatches });
  for (const when of rule.when ?? []) {
    const key = when?.key ?? '';
    if (!L4_WHEN_KEYS.has(key)) {
      l7 = true;
      l7Found.add(key);
    }
    rules.push({ matches: [whenMatch(when ?? {})] });
  }
  if (action === 'ALLOW' && l7) return undefined;
  return rules;
}

function whenMatch(when: Condition): AuthorizationMatch {
  const v = when.values;
  const nv = when.notValues;
  switch (when.key) {
    case 'source.namespace':
      return compact({ namespaces: strings(v), notNamespaces: strings(nv) });
    case 'source.principal':
      return compact({ principals: strings(v), notPrincipals: strings(nv) });
    case 'source.ip':
      return compact({ sourceIps: ips(v), notSourceIps: ips(nv) });
    case 'destination.port':
      return compact({ destinationPorts: ports(v), notDestinationPorts: ports(nv) });
    case 'destination.ip':
      return compact({ destinationIps: ips(v), notDestinationIps: ips(nv) });
    default:
      return {};
  }
}

/** Drop empty lists, so an all-empty match is `{}` (what ztunnel skips). */
function compact(m: AuthorizationMatch): AuthorizationMatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (Array.isArray(v) && v.length > 0) out[k] = v;
  return out as AuthorizationMatch;
}

/** `*` presence, `*x` suffix, `x*` prefix, else exact (Istio's stringToMatch). */
export function stringMatch(v: string): StringMatch {
  if (v === '*') return { presence: {} };
  if (v.startsWith('*')) return { suffix: v.slice(1) };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1) };
  return { exact: v };
}

function strings(values: readonly string[] | undefined): StringMatch[] {
  return (values ?? []).map(stringMatch);
}

function serviceAccounts(values: readonly string[] | undefined, ruleNamespace: string): ServiceAccountMatch[] {
  return (values ?? []).map((v) => {
    const slash = v.indexOf('/');
    return slash >= 0 ? { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) } : { namespace: ruleNamespace, serviceAccount: v };
  });
}

function ports(values: readonly string[] | undefined): number[] {
  const out: number[] = [];
  for (const v of values ?? []) {
    if (!/^\d+$/.test(v)) continue;
    const p = Number(v);
    if (p <= 65535) out.push(p);
  }
  return out;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** CIDRs and addresses (unparsable ones skipped, as istiod does). */
export function ips(values: readonly string[] | undefined): IpMatch[] {
  const out: IpMatch[] = [];
  for (const v of values ?? []) {
    if (!v) continue;
    const [addr, bits] = v.split('/') as [string, string | undefined];
    const v4 = IPV4.test(addr) && addr.split('.').every((o) => Number(o) <= 255);
    const v6 = !v4 && addr.includes(':') && /^[0-9a-fA-F:.]+$/.test(addr);
    if (!v4 && !v6) continue;
    const max = v4 ? 32 : 128;
    const length = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(length) || length < 0 || length > max) continue;
    out.push({ address: ipToBase64(addr), length });
  }
  return out;
}

function matchIsEmpty(m: AuthorizationMatch | undefined): boolean {
  return !m || Object.keys(m).length === 0;
}

/** Does at least one group fire at ztunnel (groups made only of empty matches never do)? */
export function hasEffectiveRules(groups: readonly AuthorizationGroup[]): boolean {
  for (const g of groups) {
    const rules = g.rules ?? [];
    if (rules.length === 0) return true;
    if (rules.every((r) => (r.matches ?? []).some((m) => !matchIsEmpty(m)))) return true;
  }
  return false;
}
