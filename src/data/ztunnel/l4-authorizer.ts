import { ipToBytesOrEmpty } from './ip-bytes.ts';
import type { ZAuthorization, ZCidr, ZMatch, ZStringMatch, ZWorkload } from './workload-model.ts';
import type { WorkloadStore } from './workload-store.ts';

/**
 * ztunnel's L4 authorization (zt:src/state.rs assert_rbac, src/rbac.rs): the policies of the
 * destination workload (its namespace's, the mesh's, and those it lists) are evaluated in
 * Istio's order — any matching DENY denies; no ALLOW policy allows; a matching ALLOW allows;
 * otherwise deny. Dry-run policies are only logged. A policy matches when one of its groups
 * does: every rule of the group has a matching (non-empty) match; inside a match every field
 * present holds (values of one field OR-ed, `not` values must all miss). Principals compare
 * without `spiffe://`; a connection without a peer identity has none.
 */
export interface L4Connection {
  srcIp: string;
  srcIdentity: string | undefined;
  dstIp: string;
  dstPort: number;
}

export type AuthzDecision = { allowed: true } | { allowed: false; reason: string; policy?: string };

export class L4Authorizer {
  private readonly store: WorkloadStore;
  private readonly onDryRun: ((policy: string, outcome: string) => void) | undefined;

  constructor(store: WorkloadStore, onDryRun?: (policy: string, outcome: string) => void) {
    this.store = store;
    this.onDryRun = onDryRun;
  }

  check(dest: Pick<ZWorkload, 'namespace' | 'authorizationPolicies'>, conn: L4Connection): AuthzDecision {
    const policies = this.store.policiesFor(dest);
    const deny = policies.filter((p) => p.action === 'DENY');
    const allow = policies.filter((p) => p.action === 'ALLOW');
    for (const p of deny) {
      if (!policyMatches(p, conn)) continue;
      if (p.dryRun) {
        this.onDryRun?.(p.key, 'dry-run: deny policy match');
        continue;
      }
      return { allowed: false, reason: `explicitly denied by: ${p.key}`, policy: p.key };
    }
    const enforced = allow.filter((p) => !p.dryRun);
    for (const p of allow) if (p.dryRun && policyMatches(p, conn)) this.onDryRun?.(p.key, 'dry-run: allow policy match');
    if (enforced.length === 0) return { allowed: true };
    for (const p of enforced) if (policyMatches(p, conn)) return { allowed: true };
    return { allowed: false, reason: 'allow policies exist, but none allowed' };
  }
}

export function policyMatches(p: ZAuthorization, conn: L4Connection): boolean {
  if (p.groups.length === 0) return false;
  const id = conn.srcIdentity ?? '';
  const principal = id.startsWith('spiffe://') ? id.slice('spiffe://'.length) : '';
  const ns = /\/ns\/([^/]+)\/sa\//.exec(id)?.[1] ?? '';
  const sa = /\/sa\/([^/]+)$/.exec(id)?.[1] ?? '';
  const src = ipToBytesOrEmpty(conn.srcIp);
  const dst = ipToBytesOrEmpty(conn.dstIp);
  for (const rules of p.groups) {
    let groupMatch = true;
    for (const matches of rules) {
      let ruleMatch = matches.length === 0;
      for (const m of matches) {
        if (isEmpty(m)) continue;
        if (
          field(m.destinationIps, m.notDestinationIps, (c) => inCidr(dst, c)) &&
          field(m.sourceIps, m.notSourceIps, (c) => inCidr(src, c)) &&
          field(m.destinationPorts, m.notDestinationPorts, (port) => port === conn.dstPort) &&
          field(m.serviceAccounts, m.notServiceAccounts, (s) => id !== '' && s.namespace === ns && s.serviceAccount === sa) &&
          field(m.principals, m.notPrincipals, (s) => principal !== '' && stringMatches(s, principal)) &&
          field(m.namespaces, m.notNamespaces, (s) => stringMatches(s, ns))
        ) {
          ruleMatch = true;
          break;
        }
      }
      if (!ruleMatch) {
        groupMatch = false;
        break;
      }
    }
    if (groupMatch) return true;
  }
  return false;
}

function field<T>(positive: readonly T[], negative: readonly T[], pred: (v: T) => boolean): boolean {
  if (positive.length > 0 && !positive.some(pred)) return false;
  if (negative.length > 0 && negative.some(pred)) return false;
  return true;
}

function isEmpty(m: ZMatch): boolean {
  for (const v of Object.values(m)) if ((v as unknown[]).length > 0) return false;
  return true;
}

function stringMatches(m: ZStringMatch, v: string): boolean {
  if ('exact' in m) return v === m.exact;
  if ('prefix' in m) return v.startsWith(m.prefix);
  if ('suffix' in m) return v.endsWith(m.suffix);
  return v !== '';
}

function inCidr(ip: Buffer, c: ZCidr): boolean {
  if (ip.length === 0 || ip.length !== c.bytes.length) return false;
  let bits = c.length;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}
