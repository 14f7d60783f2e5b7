import type { ConfigResource } from '../api/config-resource.ts';

/** One Istio resource that applies to a graph node, and why. */
export interface AppliedConfig {
  kind: string;
  namespace: string;
  name: string;
  why: string;
  spec: unknown;
}

export interface WorkloadRef {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** Kinds that select workloads (root namespace → namespace → `selector.matchLabels`). */
const WORKLOAD_POLICY_KINDS = ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'Sidecar', 'Telemetry', 'EnvoyFilter', 'WasmPlugin'];

const spec = (r: ConfigResource): Record<string, unknown> => (r.spec ?? {}) as Record<string, unknown>;
const nsOf = (r: ConfigResource): string => r.metadata.namespace ?? 'default';

function matches(selector: Record<string, string> | undefined, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** A host as written in a resource of `namespace` → FQDN (Istio resolves short names in the resource's namespace). */
export function resolveHost(host: string, namespace: string, domain = 'cluster.local'): string {
  return host.includes('.') || host === '*' ? host : `${host}.${namespace}.svc.${domain}`;
}

/** Does `pattern` (possibly `*.suffix` or `*`) cover `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** Policies that select a workload: mesh-wide (root namespace), namespace-wide, or by its labels. */
export function workloadPolicies(objects: readonly ConfigResource[], w: WorkloadRef, rootNamespace = 'istio-system'): AppliedConfig[] {
  const out: AppliedConfig[] = [];
  for (const r of objects) {
    if (!WORKLOAD_POLICY_KINDS.includes(r.kind) || r.group === '') continue;
    const ns = nsOf(r);
    const s = spec(r);
    const selector = (s.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? (s.workloadSelector as { labels?: Record<string, string> } | undefined)?.labels;
    if (s.targetRef || s.targetRefs) continue;
    let why: string | undefined;
    if (ns === rootNamespace && !selector) why = `mesh-wide (root namespace ${rootNamespace})`;
    else if (ns === w.namespace && !selector) why = `namespace-wide (${ns})`;
    else if ((ns === w.namespace || ns === rootNamespace) && selector && Object.keys(selector).length > 0 && matches(selector, w.labels)) {
      why = `selects ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',')}`;
    }
    if (why) out.push({ kind: r.kind, namespace: ns, name: r.metadata.name, why, spec: r.spec });
  }
  return out;
}

/**
 * Networking config about one service host (FQDN): VirtualServices that route it (their hosts)
 * or route to it (a destination), DestinationRules for it, ServiceEntries declaring it.
 */
export function serviceConfig(objects: readonly ConfigResource[], host: string): AppliedConfig[] {
  const out: AppliedConfig[] = [];
  for (const r of objects) {
    const ns = nsOf(r);
    const s = spec(r);
    if (r.group !== 'networking.istio.io') continue;
    if (r.kind === 'VirtualService') {
      const hosts = ((s.hosts as string[] | undefined) ?? []).map((h) => resolveHost(h, ns));
      const gateways = (s.gateways as string[] | undefined) ?? ['mesh'];
      const via = gateways.map((g) => (g === 'mesh' ? 'mesh traffic' : `gateway ${g}`)).join(', ');
      if (hosts.some((h) => hostMatches(h, host))) {
        out.push({ kind: r.kind, namespace: ns, name: r.metadata.name, why: `routes ${host} (${via})`, spec: r.spec });
        continue;
      }
      const routes = ['http', 'tcp', 'tls'].flatMap((k) => (s[k] as { route?: { destination?: { host?: string } }[] }[] | undefined) ?? []);
      if (routes.some((rt) => (rt.route ?? []).some((d) => d.destination?.host && resolveHost(d.destination.host, ns) === host))) {
        out.push({ kind: r.kind, namespace: ns, name: r.metadata.name, why: `routes to ${host} (${via})`, spec: r.spec });
      }
    } else if (r.kind === 'DestinationRule') {
      if (typeof s.host === 'string' && hostMatches(resolveHost(s.host, ns), host)) out.push({ kind: r.kind, namespace: ns, name: r.metadata.name, why: `traffic policy for ${host}`, spec: r.spec });
    } else if (r.kind === 'ServiceEntry') {
      if (((s.hosts as string[] | undefined) ?? []).some((h) => hostMatches(h, host))) out.push({ kind: r.kind, namespace: ns, name: r.metadata.name, why: `declares ${host}`, spec: r.spec });
    }
  }
  return out;
}

/** The Kubernetes Services whose selector picks these labels in this namespace. */
export function servicesOf(objects: readonly ConfigResource[], w: WorkloadRef): ConfigResource[] {
  return objects.filter((r) => r.kind === 'Service' && r.group === '' && nsOf(r) === w.namespace && Object.keys((spec(r).selector as Record<string, string> | undefined) ?? {}).length > 0 && matches(spec(r).selector as Record<string, string>, w.labels));
}

/** DestinationRule subsets (of the workload's services) whose labels this workload carries. */
export function subsetsOf(objects: readonly ConfigResource[], w: WorkloadRef, hosts: readonly string[]): AppliedConfig[] {
  const out: AppliedConfig[] = [];
  for (const r of objects) {
    if (r.kind !== 'DestinationRule' || r.group !== 'networking.istio.io') continue;
    const s = spec(r);
    const host = typeof s.host === 'string' ? resolveHost(s.host, nsOf(r)) : '';
    if (!hosts.some((h) => hostMatches(host, h))) continue;
    for (const sub of (s.subsets as { name?: string; labels?: Record<string, string> }[] | undefined) ?? []) {
      if (sub.labels && matches(sub.labels, w.labels)) out.push({ kind: r.kind, namespace: nsOf(r), name: r.metadata.name, why: `subset ${sub.name} of ${host}`, spec: r.spec });
    }
  }
  return out;
}

/** Everything that applies to a workload: its policies, its services' routing, the subsets it is in. */
export function workloadConfig(objects: readonly ConfigResource[], w: WorkloadRef, rootNamespace = 'istio-system'): AppliedConfig[] {
  const hosts = servicesOf(objects, w).map((s) => `${s.metadata.name}.${nsOf(s)}.svc.cluster.local`);
  const seen = new Set<string>();
  const out: AppliedConfig[] = [];
  for (const c of [...workloadPolicies(objects, w, rootNamespace), ...subsetsOf(objects, w, hosts), ...hosts.flatMap((h) => serviceConfig(objects, h))]) {
    const key = `${c.kind}/${c.namespace}/${c.name}/${c.why}`;
    if (!seen.has(key)) out.push(c), seen.add(key);
  }
  return out;
}
