import type { KubeObject } from '../lib/kube/reflector.ts';
import type { ServiceBackend, ServiceNatEntry } from '../runtime/service-nat-rules.ts';

type Obj = Record<string, any>;

/**
 * kube-proxy's view, from the API server's objects: each ClusterIP Service port with the
 * endpoints of its EndpointSlices (ready ones; serving terminating ones only when none is ready,
 * as kube-proxy does). `default/kubernetes` goes to `apiServer` (the API server advertises a
 * loopback address, which pods cannot reach and EndpointSlices cannot hold: the node relays it).
 */
export function serviceTable(services: readonly KubeObject[], slices: readonly KubeObject[], apiServer: ServiceBackend | undefined): ServiceNatEntry[] {
  const bySvc = new Map<string, Obj[]>();
  for (const s of slices as Obj[]) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc || (s.addressType && s.addressType !== 'IPv4')) continue;
    const key = `${s.metadata.namespace}/${svc}`;
    bySvc.set(key, [...(bySvc.get(key) ?? []), s]);
  }
  const out: ServiceNatEntry[] = [];
  for (const svc of services as Obj[]) {
    const spec = svc.spec ?? {};
    const vip = spec.clusterIP;
    if (!vip || vip === 'None' || spec.type === 'ExternalName') continue;
    const master = svc.metadata?.namespace === 'default' && svc.metadata?.name === 'kubernetes';
    for (const port of (spec.ports ?? []) as Obj[]) {
      const protocol = port.protocol === 'UDP' ? 'UDP' : 'TCP';
      if (master && apiServer && protocol === 'TCP') {
        out.push({ vip, port: port.port, protocol, backends: [apiServer] });
        continue;
      }
      const ready: ServiceBackend[] = [];
      const terminating: ServiceBackend[] = [];
      for (const slice of bySvc.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? []) {
        const sp = ((slice.ports ?? []) as Obj[]).find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol);
        if (!sp?.port) continue;
        for (const ep of (slice.endpoints ?? []) as Obj[]) {
          const c = ep.conditions ?? {};
          for (const address of (ep.addresses ?? []) as string[]) {
            if (c.ready !== false) ready.push({ address, port: sp.port });
            else if (c.serving === true && c.terminating === true) terminating.push({ address, port: sp.port });
          }
        }
      }
      const backends = (ready.length > 0 ? ready : terminating).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
      out.push({ vip, port: port.port, protocol, backends });
    }
  }
  return out;
}

/** Services as the hosts file lists them (ClusterIP Services only). */
export function serviceNames(services: readonly KubeObject[]): { name: string; namespace: string; vip: string }[] {
  return (services as Obj[])
    .filter((s) => s.spec?.clusterIP && s.spec.clusterIP !== 'None')
    .map((s) => ({ name: String(s.metadata.name), namespace: String(s.metadata.namespace), vip: String(s.spec.clusterIP) }));
}
