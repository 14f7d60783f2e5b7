/**
 * The files `ip netns exec` bind-mounts over /etc for a pod's processes: `hosts` resolving
 * Services as Kubernetes DNS would (`svc` within the pod's namespace, `svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.cluster.local` everywhere) plus the pod's own name and the cluster DNS's extra
 * names (CoreDNS `hosts` entries, runtime/coredns-hosts.ts), and `resolv.conf` with the
 * Kubernetes search path. They are rewritten in place (same inode) when Services change, so
 * running processes see the new names on their next lookup.
 */
export interface ServiceName {
  name: string;
  namespace: string;
  vip: string;
}

export interface PodIdentity {
  name: string;
  namespace: string;
  ip: string;
}

export function renderHosts(pod: PodIdentity, services: readonly ServiceName[], clusterDomain = 'cluster.local', extra: readonly { ip: string; names: readonly string[] }[] = []): string {
  const lines = ['# Managed by mizzen up', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${pod.ip}\t${pod.name}`];
  const sorted = [...services].sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
  for (const s of sorted) {
    const names = [`${s.name}.${s.namespace}.svc.${clusterDomain}`, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
    if (s.namespace === pod.namespace) names.push(s.name);
    lines.push(`${s.vip}\t${names.join(' ')}`);
  }
  for (const e of extra) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function renderResolvConf(namespace: string, clusterDomain = 'cluster.local', nameserver = '127.0.0.1'): string {
  // No resolver is reachable from a pod: names come from the hosts file, or (ambient pods, whose
  // DNS ztunnel captures) from ztunnel's DNS proxy behind the cluster DNS address.
  return [
    '# Managed by mizzen up',
    `search ${namespace}.svc.${clusterDomain} svc.${clusterDomain} ${clusterDomain}`,
    `nameserver ${nameserver}`,
    'options ndots:5 timeout:1 attempts:1',
    '',
  ].join('\n');
}
