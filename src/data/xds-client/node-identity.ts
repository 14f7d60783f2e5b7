import { jsonToStruct, type Obj } from './proto-values.ts';

export type ProxyType = 'sidecar' | 'router' | 'waypoint' | 'ztunnel';

/** Who this proxy is, as istio-agent describes an Envoy to istiod. */
export interface NodeIdentity {
  type: ProxyType;
  ip: string;
  podName: string;
  namespace: string;
  domain?: string;
  serviceAccount?: string;
  labels?: Record<string, string>;
  /** Extra ISTIO_META_* values (name without the prefix). */
  meta?: Record<string, string>;
  /** Full node id when given explicitly (overrides the built one). */
  id?: string;
  clusterId?: string;
  trustDomain?: string;
}

/** Istio's node ID: `sidecar~IP~POD.NS~NS.svc.cluster.local`. */
export function istioNodeId(n: NodeIdentity): string {
  if (n.id) return n.id;
  return `${n.type}~${n.ip}~${n.podName}.${n.namespace}~${n.domain ?? `${n.namespace}.svc.cluster.local`}`;
}

/** Parse an Istio node ID back into type/ip/pod/namespace (undefined when not Istio-shaped). */
export function parseNodeId(id: string): { type: string; ip: string; podName: string; namespace: string; domain: string } | undefined {
  const parts = id.split('~');
  if (parts.length !== 4) return undefined;
  const [type, ip, podNs, domain] = parts;
  const dot = podNs.lastIndexOf('.');
  if (dot < 0) return undefined;
  return { type, ip, podName: podNs.slice(0, dot), namespace: podNs.slice(dot + 1), domain };
}

/** The envoy.config.core.v3.Node object (plain, ready to encode) for ADS requests. */
export function buildNode(n: NodeIdentity): Obj {
  const labels = n.labels ?? {};
  const workload = labels['app'] ?? labels['app.kubernetes.io/name'] ?? n.podName;
  const metadata: Obj = {
    NAME: n.podName,
    NAMESPACE: n.namespace,
    INSTANCE_IPS: n.ip,
    LABELS: labels,
    SERVICE_ACCOUNT: n.serviceAccount ?? 'default',
    CLUSTER_ID: n.clusterId ?? 'Kubernetes',
    MESH_ID: n.trustDomain ?? 'cluster.local',
    WORKLOAD_NAME: labels['service.istio.io/canonical-name'] ?? workload,
    ISTIO_VERSION: '1.24.0-mizzen',
    PROXY_CONFIG: {},
    ...(n.meta ?? {}),
  };
  return {
    id: istioNodeId(n),
    cluster: `${workload}.${n.namespace}`,
    metadata: jsonToStruct(metadata),
    userAgentName: 'mizzen',
    userAgentVersion: '0.1.0',
  };
}
