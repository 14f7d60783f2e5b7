import type { ConfigResource } from '../../api/config-resource.ts';
import type { MutualTlsMode, PeerAuthenticationSpec } from '../../api/istio/peer-authentication.ts';
import type { AuthorizationGroup, AuthorizationResource, AuthorizationRules } from '../../api/workload/workload-types.ts';
import { CONVERTED_PEER_AUTHENTICATION_PREFIX, STATIC_STRICT_POLICY_NAME } from '../../api/workload/workload-types.ts';
import { configOrder } from '../push/config-scope.ts';

/**
 * PeerAuthentication in ambient mode, as istiod sends it to ztunnel: mTLS is always on between
 * ztunnels (HBONE), so only STRICT matters — as DENY policies on "no peer identity"
 * (`notPrincipals: [presence]`):
 * - a static `istio_converted_static_strict` policy in the root namespace (sent whenever any
 *   PeerAuthentication exists), referenced by every workload whose effective mode is STRICT;
 * - a workload policy with portLevelMtls that makes some ports differ from the effective mode
 *   becomes `converted_peer_authentication_<name>` (DENY, workload selector), referenced by the
 *   workloads it selects instead of the static one.
 * DISABLE behaves as PERMISSIVE (HBONE is always mutual TLS).
 */
type PA = ConfigResource<PeerAuthenticationSpec>;

const NO_PEER_IDENTITY: AuthorizationRules = { matches: [{ notPrincipals: [{ presence: {} }] }] };

const modeOf = (p: PA | undefined): MutualTlsMode => p?.spec?.mtls?.mode ?? 'UNSET';
const isStrict = (p: PA | undefined): boolean => modeOf(p) === 'STRICT';
const isUnset = (p: PA | undefined): boolean => modeOf(p) === 'UNSET';
const hasSelector = (p: PA): boolean => Object.keys(p.spec?.selector?.matchLabels ?? {}).length > 0;

/** The static mesh-wide STRICT policy (sent when any PeerAuthentication exists). */
export function staticStrictPolicy(rootNamespace: string): AuthorizationResource {
  return { name: STATIC_STRICT_POLICY_NAME, namespace: rootNamespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', groups: [{ rules: [NO_PEER_IDENTITY] }] };
}

/** The oldest namespace-wide (no selector) policy of a namespace. */
export function oldestNamespacePolicy(policies: readonly PA[], namespace: string): PA | undefined {
  return policies.filter((p) => (p.metadata.namespace ?? 'default') === namespace && !hasSelector(p)).sort(configOrder)[0];
}

function portModes(p: PA): [number, MutualTlsMode][] {
  return Object.entries(p.spec?.portLevelMtls ?? {})
    .map(([port, m]): [number, MutualTlsMode] => [Number(port), m?.mode ?? 'UNSET'])
    .filter(([port]) => Number.isInteger(port))
    .sort((a, b) => a[0] - b[0]);
}

/**
 * The converted form of a workload policy with port-level mTLS, merged with its namespace and
 * root policies; undefined when it needs no policy of its own (istiod's convertPeerAuthentication).
 */
export function convertPeerAuthentication(p: PA, nsPolicy: PA | undefined, rootPolicy: PA | undefined, rootNamespace: string): AuthorizationResource | undefined {
  const namespace = p.metadata.namespace ?? 'default';
  const ports = portModes(p);
  if (namespace === rootNamespace || !hasSelector(p) || ports.length === 0) return undefined;
  const mode = modeOf(p);
  const rules: AuthorizationRules[] = [];
  const groups: AuthorizationGroup[] = [];
  if (mode === 'STRICT') rules.push(NO_PEER_IDENTITY);
  let foundNonStrictPort = false;
  for (const [port, portMode] of ports) {
    if (portMode === 'STRICT') {
      const parentStrict = isStrict(p) || (isUnset(p) && ((nsPolicy !== undefined && isStrict(nsPolicy)) || ((nsPolicy === undefined || isUnset(nsPolicy)) && rootPolicy !== undefined && isStrict(rootPolicy))));
      if (parentStrict) continue;
      groups.push({ rules: [{ matches: [{ notPrincipals: [{ presence: {} }], destinationPorts: [port] }] }] });
    } else if (portMode === 'PERMISSIVE' || portMode === 'DISABLE') {
      if (mode === 'PERMISSIVE' || mode === 'DISABLE') continue;
      if (mode === 'UNSET' && ((nsPolicy !== undefined && !isStrict(nsPolicy)) || (nsPolicy === undefined && rootPolicy !== undefined && !isStrict(rootPolicy)) || (nsPolicy === undefined && rootPolicy === undefined))) continue;
      foundNonStrictPort = true;
      rules.push({ matches: [{ notDestinationPorts: [port] }] });
    }
  }
  if (mode === 'STRICT' && !foundNonStrictPort) return undefined;
  if (rules.length === 0 && groups.length === 0) return undefined;
  let mergeStrict = false;
  if (rootPolicy !== undefined && isStrict(rootPolicy) && (nsPolicy === undefined || isUnset(nsPolicy) || isStrict(nsPolicy))) mergeStrict = true;
  else if (nsPolicy !== undefined && isStrict(nsPolicy)) mergeStrict = true;
  if (mergeStrict && foundNonStrictPort) rules.push(NO_PEER_IDENTITY);
  if (rules.length > 0) groups.push({ rules });
  return { name: `${CONVERTED_PEER_AUTHENTICATION_PREFIX}${p.metadata.name}`, namespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', groups };
}

/**
 * Which PeerAuthentication-derived policies a workload references, given the policies that apply
 * to it (its namespace's: namespace-wide or selecting it; the root's namespace-wide ones):
 * the static STRICT one, and/or its workload policy's converted form (istiod's
 * convertedSelectorPeerAuthentications).
 */
export function peerAuthenticationKeys(applicable: readonly PA[], rootNamespace: string): string[] {
  let mesh: PA | undefined;
  let ns: PA | undefined;
  let workload: PA | undefined;
  const older = (a: PA, b: PA | undefined): boolean => b === undefined || configOrder(a, b) < 0;
  for (const p of applicable) {
    const pns = p.metadata.namespace ?? 'default';
    if (!hasSelector(p)) {
      if (pns === rootNamespace) {
        if (older(p, mesh)) mesh = p;
      } else if (older(p, ns)) ns = p;
    } else if (pns !== rootNamespace && older(p, workload)) workload = p;
  }
  let strict = false;
  let portKey = '';
  if (mesh) strict = isStrict(mesh);
  if (ns && !isUnset(ns)) strict = isStrict(ns);
  if (workload) {
    const wmode = modeOf(workload);
    if (wmode === 'STRICT') strict = true;
    if (wmode === 'PERMISSIVE' || wmode === 'DISABLE') strict = false;
    const ports = portModes(workload);
    const key = `${workload.metadata.namespace ?? 'default'}/${CONVERTED_PEER_AUTHENTICATION_PREFIX}${workload.metadata.name}`;
    if (ports.length > 0) {
      if (wmode === 'STRICT') {
        if (ports.some(([, m]) => m === 'PERMISSIVE' || m === 'DISABLE')) {
          portKey = key;
          strict = false;
        }
      } else if (wmode === 'PERMISSIVE' || wmode === 'DISABLE') {
        if (ports.some(([, m]) => m === 'STRICT')) portKey = key;
      } else if (strict) {
        if (ports.some(([, m]) => m === 'PERMISSIVE')) {
          portKey = key;
          strict = false;
        }
      } else {
        strict = false;
        if (ports.some(([, m]) => m === 'STRICT')) portKey = key;
      }
    }
  }
  const out: string[] = [];
  if (strict) out.push(`${rootNamespace}/${STATIC_STRICT_POLICY_NAME}`);
  if (portKey) out.push(portKey);
  return out.sort();
}
