import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/**
 * Bookinfo as a cluster without a kubelet would hold it after Istio's injection: the sample's
 * Services, ServiceAccounts and Deployments; one Pod per Deployment with the labels and
 * annotation the injector adds, on a Node with a region and zone; EndpointSlices as the
 * EndpointSlice controller would write them; Istio's `istio` ConfigMap. Both control planes
 * are fed exactly these objects.
 */
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const NODE_NAME = 'fidelity-node';
export const REGION = 'fidelity-region';
export const ZONE = 'fidelity-zone';

export interface BookinfoCluster {
  /** Objects to create (Pods without status). */
  objects: Obj[];
  /** Pod `NAMESPACE/NAME` → the status to patch in (phase, IPs, Ready). */
  podStatus: Map<string, Obj>;
  /** The sidecars to compare: pod name, IP, node metadata. */
  sidecars: { pod: string; ip: string; metadata: Record<string, unknown> }[];
  /** The ingress gateway (a `router` proxy in istio-system). */
  gateway: { pod: string; ip: string; metadata: Record<string, unknown> };
}

/**
 * Istio's default ingress gateway as its gateway chart makes it (as `mizzen up --ingress-gateway`):
 * Service istio-ingressgateway (15021, 80→8080, 443→8443) and one Pod with the gateway labels.
 */
function ingressGateway(): { objects: Obj[]; pod: Obj; ip: string; metadata: Record<string, unknown> } {
  const labels = { app: 'istio-ingressgateway', istio: 'ingressgateway', 'service.istio.io/canonical-name': 'istio-ingressgateway', 'service.istio.io/canonical-revision': 'latest' };
  const ports = [{ containerPort: 15021, name: 'status-port', protocol: 'TCP' }, { containerPort: 8080, name: 'http2', protocol: 'TCP' }, { containerPort: 8443, name: 'https', protocol: 'TCP' }];
  const name = 'istio-ingressgateway-fidelity';
  const ip = '10.244.0.50';
  const sa = 'istio-ingressgateway-service-account';
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: 'istio-system' } },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'istio-ingressgateway', namespace: 'istio-system', labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' } },
      spec: { selector: { app: 'istio-ingressgateway', istio: 'ingressgateway' }, ports: [{ name: 'status-port', port: 15021, targetPort: 15021 }, { name: 'http2', port: 80, targetPort: 8080 }, { name: 'https', port: 443, targetPort: 8443 }] },
    },
  ];
  const pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'istio-system', labels, annotations: { 'inject.istio.io/templates': 'gateway', 'sidecar.istio.io/status': '{"initContainers":null,"containers":["istio-proxy"],"volumes":["workload-socket"],"imagePullSecrets":null,"revision":"default"}' } },
    spec: { serviceAccountName: sa, nodeName: NODE_NAME, containers: [{ name: 'istio-proxy', image: 'auto', ports }] },
  };
  const metadata = {
    NAMESPACE: 'istio-system', NAME: name, LABELS: labels, ISTIO_VERSION: '1.29.0', CLUSTER_ID: 'Kubernetes', MESH_ID: 'cluster.local',
    WORKLOAD_NAME: 'istio-ingressgateway', SERVICE_ACCOUNT: sa, INSTANCE_IPS: ip, POD_PORTS: JSON.stringify(ports), OWNER: 'kubernetes://apis/apps/v1/namespaces/istio-system/deployments/istio-ingressgateway',
    ENVOY_PROMETHEUS_PORT: 15090, ENVOY_STATUS_PORT: 15021, NODE_NAME, UNPRIVILEGED_POD: 'true', PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
  };
  return { objects, pod, ip, metadata };
}

export function bookinfoCluster(bookinfoYaml: string, istioConfigYaml: readonly string[]): BookinfoCluster {
  const docs = parseAllDocuments(readFileSync(bookinfoYaml, 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean);
  const ns = (o: Obj): Obj => ({ ...o, metadata: { namespace: 'default', ...o.metadata } });
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME, labels: { 'topology.kubernetes.io/region': REGION, 'topology.kubernetes.io/zone': ZONE, 'kubernetes.io/hostname': NODE_NAME } } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'trustDomain: cluster.local\nrootNamespace: istio-system\n', meshNetworks: 'networks: {}\n' } },
  ];
  const services = docs.filter((d) => d.kind === 'Service').map(ns);
  objects.push(...services, ...docs.filter((d) => d.kind === 'ServiceAccount').map(ns));
  const podStatus = new Map<string, Obj>();
  const sidecars: BookinfoCluster['sidecars'] = [];
  const pods: Obj[] = [];
  docs.filter((d) => d.kind === 'Deployment').forEach((d, i) => {
    const t = d.spec.template;
    const labels: Record<string, string> = { ...t.metadata.labels, 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': t.metadata.labels.app, 'service.istio.io/canonical-revision': t.metadata.labels.version ?? 'latest' };
    const name = `${d.metadata.name}-fidelity`;
    const ip = `10.244.0.${10 + i}`;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels, annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy"],"imagePullSecrets":null,"revision":"default"}' } },
      spec: { ...t.spec, nodeName: NODE_NAME, containers: t.spec.containers.map((c: Obj) => ({ name: c.name, image: c.image, ports: c.ports })), volumes: undefined },
    };
    pods.push(pod);
    podStatus.set(`default/${name}`, {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }, { type: 'PodScheduled', status: 'True' }],
    });
    const ports = (t.spec.containers as Obj[]).flatMap((c) => c.ports ?? []);
    sidecars.push({
      pod: name,
      ip,
      metadata: {
        NAMESPACE: 'default',
        NAME: name,
        LABELS: labels,
        ISTIO_VERSION: '1.29.0',
        CLUSTER_ID: 'Kubernetes',
        MESH_ID: 'cluster.local',
        INTERCEPTION_MODE: 'REDIRECT',
        WORKLOAD_NAME: d.metadata.name,
        SERVICE_ACCOUNT: t.spec.serviceAccountName,
        INSTANCE_IPS: ip,
        POD_PORTS: JSON.stringify(ports),
        APP_CONTAINERS: t.spec.containers.map((c: Obj) => c.name).join(','),
        OWNER: `kubernetes://apis/apps/v1/namespaces/default/deployments/${d.metadata.name}`,
        ENVOY_PROMETHEUS_PORT: 15090,
        ENVOY_STATUS_PORT: 15021,
        NODE_NAME,
        PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
      },
    });
  });
  const gw = ingressGateway();
  objects.push(...gw.objects);
  services.push(gw.objects[1]!);
  pods.push(gw.pod);
  podStatus.set(`istio-system/${gw.pod.metadata.name}`, { phase: 'Running', hostIP: '127.0.0.1', podIP: gw.ip, podIPs: [{ ip: gw.ip }], conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }, { type: 'PodScheduled', status: 'True' }] });
  objects.push(...pods);
  for (const s of services) {
    const selected = pods.filter((p) => p.metadata.namespace === s.metadata.namespace && Object.entries(s.spec.selector ?? {}).every(([k, v]) => p.metadata.labels[k] === v));
    objects.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.metadata.name}-fidelity`, namespace: s.metadata.namespace, labels: { 'kubernetes.io/service-name': s.metadata.name, 'endpointslice.kubernetes.io/managed-by': 'fidelity.mizzen.local' } },
      addressType: 'IPv4',
      endpoints: selected.map((p) => ({ addresses: [podStatus.get(`${p.metadata.namespace}/${p.metadata.name}`)!.podIP], conditions: { ready: true, serving: true, terminating: false }, nodeName: NODE_NAME, zone: ZONE, targetRef: { kind: 'Pod', name: p.metadata.name, namespace: p.metadata.namespace } })),
      ports: (s.spec.ports as Obj[]).map((p) => ({ name: p.name ?? '', port: typeof p.targetPort === 'number' ? p.targetPort : p.port, protocol: p.protocol ?? 'TCP' })),
    });
  }
  for (const file of istioConfigYaml) objects.push(...parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean).map(ns));
  return { objects, podStatus, sidecars, gateway: { pod: gw.pod.metadata.name, ip: gw.ip, metadata: gw.metadata } };
}
