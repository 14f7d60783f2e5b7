import { applyPrometheusMerge } from '../../runtime/prometheus-merge.ts';
import { INBOUND_CAPTURE_PORT, INBOUND_EXCLUDED_PORTS, OUTBOUND_CAPTURE_PORT, PROXY_GID, PROXY_UID } from '../../runtime/capture-rules.ts';
import { overlayContainer } from '../../api/kube/container-overlay.ts';
import type { InjectionSettings } from './injection-settings.ts';
import { STATUS_ANNOTATION, type PodLike } from './injection-policy.ts';
import { rewriteAppProbes } from './probe-rewrite.ts';

type Obj = Record<string, any>;

export const PROXY_CONTAINER = 'istio-proxy';
export const INIT_CONTAINER = 'istio-init';
const STATUS_PORT = 15020;
const TOKEN_PATH = '/var/run/secrets/tokens';
const ROOT_CERT_PATH = '/var/run/secrets/istio';

const fieldEnv = (name: string, fieldPath: string): Obj => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });

/** `traffic.sidecar.istio.io/*` and the other per-pod overrides Istio documents. */
function annotation(pod: PodLike, key: string): string | undefined {
  return pod.metadata?.annotations?.[key];
}

function appContainers(spec: Obj): Obj[] {
  return ((spec.containers ?? []) as Obj[]).filter((c) => c.name !== PROXY_CONTAINER);
}

/** The workload name Istio derives: the Deployment behind a ReplicaSet pod, else the pod's name. */
function workloadName(pod: Obj): string {
  const owner = ((pod.metadata?.ownerReferences ?? []) as Obj[]).find((o) => o.controller);
  if (owner?.kind === 'ReplicaSet') return String(owner.name).replace(/-[a-z0-9]{5,10}$/, '');
  if (owner) return String(owner.name);
  const name = String(pod.metadata?.name ?? pod.metadata?.generateName ?? '');
  return name.replace(/-[a-z0-9]{5,10}-[a-z0-9]{5}$/, '').replace(/-$/, '');
}

/** Istio's ISTIO_META_OWNER: the Deployment behind a ReplicaSet, else the controller, else the pod. */
function ownerOf(pod: Obj, namespace: string, workload: string): string {
  const owner = ((pod.metadata?.ownerReferences ?? []) as Obj[]).find((o) => o.controller);
  if (!owner) return `kubernetes://apis/v1/namespaces/${namespace}/pods/${String(pod.metadata?.name ?? workload)}`;
  if (owner.kind === 'ReplicaSet') return `kubernetes://apis/apps/v1/namespaces/${namespace}/deployments/${workload}`;
  const group = String(owner.apiVersion ?? 'v1');
  return `kubernetes://apis/${group}/namespaces/${namespace}/${String(owner.kind).toLowerCase()}s/${String(owner.name)}`;
}

function canonicalName(pod: Obj, workload?: string): string {
  const l = (pod.metadata?.labels ?? {}) as Record<string, string>;
  return l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? workload ?? workloadName(pod);
}

function canonicalRevision(pod: Obj): string {
  const l = (pod.metadata?.labels ?? {}) as Record<string, string>;
  return l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l.version ?? 'latest';
}

/** istio-init's arguments in istio-iptables' flag language; `mizzen istio-iptables` applies them. */
export function captureArgs(pod: PodLike): string[] {
  const excludeIn = [...INBOUND_EXCLUDED_PORTS.filter((p) => p !== 15008), ...(annotation(pod, 'traffic.sidecar.istio.io/excludeInboundPorts') ?? '').split(',').map((s) => s.trim()).filter(Boolean)];
  const args = [
    '-p', String(OUTBOUND_CAPTURE_PORT), '-z', String(INBOUND_CAPTURE_PORT), '-u', String(PROXY_UID), '-m', 'REDIRECT',
    '-i', annotation(pod, 'traffic.sidecar.istio.io/includeOutboundIPRanges') ?? '*',
    '-x', annotation(pod, 'traffic.sidecar.istio.io/excludeOutboundIPRanges') ?? '',
    '-b', annotation(pod, 'traffic.sidecar.istio.io/includeInboundPorts') ?? '*',
    '-d', [...new Set(excludeIn)].join(','),
  ];
  const excludeOut = annotation(pod, 'traffic.sidecar.istio.io/excludeOutboundPorts');
  if (excludeOut) args.push('-o', excludeOut);
  return args;
}

function proxyResources(pod: PodLike, s: InjectionSettings): Obj {
  const r = s.proxyResources;
  return {
    requests: { cpu: annotation(pod, 'sidecar.istio.io/proxyCPU') ?? r.cpu, memory: annotation(pod, 'sidecar.istio.io/proxyMemory') ?? r.memory },
    limits: { cpu: annotation(pod, 'sidecar.istio.io/proxyCPULimit') ?? r.cpuLimit, memory: annotation(pod, 'sidecar.istio.io/proxyMemoryLimit') ?? r.memoryLimit },
  };
}

function proxyConfigOverrides(pod: PodLike): Obj {
  const raw = annotation(pod, 'proxy.istio.io/config');
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return typeof v === 'object' && v !== null ? (v as Obj) : {};
  } catch {
    return {}; // YAML form: the proxy reads PROXY_CONFIG itself
  }
}

/**
 * The pod as Istio's sidecar injector returns it: `istio-init` (capture rules) and `istio-proxy`
 * (`mizzen proxy sidecar`), the token/root-cert/podinfo volumes, labels and annotations, probe
 * rewrite. `gateway` template pods (`inject.istio.io/templates: gateway`) get their
 * `istio-proxy` container filled in as a router instead, without capture.
 */
export function injectPod(input: PodLike, namespace: string, s: InjectionSettings, owner?: { kind: string; name: string }): Obj {
  const pod = structuredClone(input) as Obj;
  pod.metadata ??= {};
  pod.spec ??= {};
  const md = pod.metadata as Obj;
  const spec = pod.spec as Obj;
  const annotations: Record<string, string> = (md.annotations ??= {});
  const labels: Record<string, string> = (md.labels ??= {});
  const gateway = (annotations['inject.istio.io/templates'] ?? 'sidecar').split(',').map((t) => t.trim()).includes('gateway');
  const apps = appContainers(spec);
  const image = annotations['sidecar.istio.io/proxyImage'] ?? s.image;
  const overrides = proxyConfigOverrides(pod);
  const hold = typeof overrides.holdApplicationUntilProxyStarts === 'boolean' ? overrides.holdApplicationUntilProxyStarts : s.holdApplicationUntilProxyStarts;
  const workload = owner?.name ?? workloadName(pod);
  const ownerRef = owner ? `kubernetes://apis/${owner.kind === 'Job' || owner.kind === 'CronJob' ? 'batch' : 'apps'}/v1/namespaces/${namespace}/${owner.kind.toLowerCase()}s/${owner.name}` : ownerOf(pod, namespace, workload);
  const rewrite = !gateway && s.rewriteAppProbers && annotations['sidecar.istio.io/rewriteAppHTTPProbers'] !== 'false';
  const probers = rewrite ? rewriteAppProbes(spec, STATUS_PORT) : {};

  // Istio's metrics merging (inject.go applyPrometheusMerge): scraped on the agent, which merges the app's own metrics
  const merge = applyPrometheusMerge(annotations, true, STATUS_PORT);
  const ports = apps.flatMap((c) => ((c.ports ?? []) as Obj[]).map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' })));
  const env: Obj[] = [
    { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
    { name: 'CA_ADDR', value: s.discoveryAddress },
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('HOST_IP', 'status.hostIP'),
    { name: 'ISTIO_CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '0' } } },
    { name: 'PROXY_CONFIG', value: JSON.stringify({ discoveryAddress: s.discoveryAddress, ...overrides }) },
    { name: 'ISTIO_META_POD_PORTS', value: JSON.stringify(ports) },
    { name: 'ISTIO_META_APP_CONTAINERS', value: apps.map((c) => c.name).join(',') },
    { name: 'ISTIO_META_CLUSTER_ID', value: s.clusterId },
    fieldEnv('ISTIO_META_NODE_NAME', 'spec.nodeName'),
    { name: 'ISTIO_META_INTERCEPTION_MODE', value: gateway ? 'NONE' : 'REDIRECT' },
    { name: 'ISTIO_META_WORKLOAD_NAME', value: workload },
    { name: 'ISTIO_META_OWNER', value: ownerRef },
    { name: 'ISTIO_META_MESH_ID', value: s.meshId },
    { name: 'TRUST_DOMAIN', value: s.trustDomain },
    { name: 'ISTIO_META_LABELS', value: JSON.stringify({ ...labels, 'service.istio.io/canonical-name': canonicalName(pod, workload), 'service.istio.io/canonical-revision': canonicalRevision(pod) }) },
    ...(Object.keys(probers).length > 0 ? [{ name: 'ISTIO_KUBE_APP_PROBERS', value: JSON.stringify(probers) }] : []),
    ...(annotations['sidecar.istio.io/logLevel'] ? [{ name: 'MIZZEN_LOG', value: annotations['sidecar.istio.io/logLevel'] }] : []),
    ...(merge.env ? [{ name: 'ISTIO_PROMETHEUS_ANNOTATIONS', value: merge.env }] : []),
  ];
  const mounts: Obj[] = [
    { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
    { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
    { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
    { name: 'istiod-ca-cert', mountPath: ROOT_CERT_PATH },
    { name: 'istio-data', mountPath: '/var/lib/istio/data' },
    { name: 'istio-token', mountPath: TOKEN_PATH },
    { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
    { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
  ];
  const readiness = annotations;
  const proxy: Obj = {
    name: PROXY_CONTAINER,
    image,
    command: ['mizzen', 'proxy', gateway ? 'router' : 'sidecar'],
    args: ['--discovery', s.discoveryAddress, '--token-file', `${TOKEN_PATH}/istio-token`, '--ca-root', `${ROOT_CERT_PATH}/root-cert.pem`, '--trust-domain', s.trustDomain],
    ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }],
    env,
    imagePullPolicy: 'IfNotPresent',
    readinessProbe: {
      httpGet: { path: '/healthz/ready', port: 15021 },
      initialDelaySeconds: Number(readiness['readiness.status.sidecar.istio.io/initialDelaySeconds'] ?? 0),
      periodSeconds: Number(readiness['readiness.status.sidecar.istio.io/periodSeconds'] ?? 15),
      timeoutSeconds: 3,
      failureThreshold: Number(readiness['readiness.status.sidecar.istio.io/failureThreshold'] ?? 4),
    },
    resources: proxyResources(pod, s),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: PROXY_GID,
      runAsNonRoot: true,
      runAsUser: PROXY_UID,
    },
    volumeMounts: mounts,
  };
  const volumes: Obj[] = [
    { name: 'workload-socket', emptyDir: {} },
    { name: 'credential-socket', emptyDir: {} },
    { name: 'workload-certs', emptyDir: {} },
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    { name: 'istio-data', emptyDir: {} },
    { name: 'istio-podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] } },
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
  const initNames: string[] = [];
  const containers = (spec.containers ?? []) as Obj[];
  if (gateway) {
    // The gateway template: the user's istio-proxy container (often `image: auto`) becomes the router,
    // its fields applied over the template's as Istio does (env by name, ports by containerPort,
    // mounts by mountPath: the API server has already added the service account token's mount to
    // the user's container when the webhook sees the pod).
    const i = containers.findIndex((c) => c.name === PROXY_CONTAINER);
    const merged = i >= 0 ? overlayContainer(proxy, containers[i]) : proxy;
    merged.command = ['mizzen', 'proxy', 'router'];
    if (i >= 0) containers[i] = merged;
    else containers.push(merged);
    spec.containers = containers;
  } else {
    const init: Obj = {
      name: INIT_CONTAINER,
      image,
      command: ['mizzen', 'istio-iptables'],
      args: captureArgs(pod),
      imagePullPolicy: 'IfNotPresent',
      resources: proxyResources(pod, s),
      securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] }, privileged: false, readOnlyRootFilesystem: false, runAsGroup: 0, runAsNonRoot: false, runAsUser: 0 },
    };
    const inits = (spec.initContainers ?? []) as Obj[];
    initNames.push(INIT_CONTAINER);
    // Istio's "customizing injection": a container of the pod named istio-proxy is merged over the
    // injected one (the user's values win) rather than kept beside it.
    const own = containers.find((c) => c.name === PROXY_CONTAINER);
    const sidecar = own ? overlayContainer(proxy, own) : proxy;
    const others = containers.filter((c) => c !== own);
    if (s.nativeSidecar) {
      spec.initContainers = [init, { ...sidecar, restartPolicy: 'Always', startupProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 1, failureThreshold: 600 } }, ...inits];
      initNames.push(PROXY_CONTAINER);
      spec.containers = others;
    } else {
      spec.initContainers = [init, ...inits];
      // holdApplicationUntilProxyStarts: the proxy is the first container (started first).
      spec.containers = hold ? [sidecar, ...others] : [...others, sidecar];
    }
  }
  spec.volumes = [...((spec.volumes ?? []) as Obj[]).filter((v) => !volumes.some((x) => x.name === v.name)), ...volumes];
  if (!spec.securityContext?.fsGroup) spec.securityContext = { ...(spec.securityContext ?? {}), fsGroup: PROXY_GID };

  // Istio's sidecar template keeps a tlsMode the pod sets; its gateway template sets none (a
  // gateway's endpoints do not take auto mTLS: clients reach it as the Gateway's servers say)
  if (!gateway) labels['security.istio.io/tlsMode'] ??= 'istio';
  labels['service.istio.io/canonical-name'] = canonicalName(pod, workload);
  labels['service.istio.io/canonical-revision'] = canonicalRevision(pod);
  if (s.revision !== 'default' || labels['istio.io/rev'] === undefined) labels['istio.io/rev'] ??= s.revision;
  if (apps[0] && !annotations['kubectl.kubernetes.io/default-container']) annotations['kubectl.kubernetes.io/default-container'] = apps[0].name;
  if (apps[0] && !annotations['kubectl.kubernetes.io/default-logs-container']) annotations['kubectl.kubernetes.io/default-logs-container'] = apps[0].name;
  Object.assign(annotations, merge.annotations);
  annotations['istio.io/rev'] = s.revision;
  annotations[STATUS_ANNOTATION] = JSON.stringify({
    initContainers: gateway ? null : initNames,
    containers: gateway || s.nativeSidecar ? null : [PROXY_CONTAINER],
    volumes: volumes.map((v) => v.name),
    imagePullSecrets: null,
    revision: s.revision,
  });
  return pod;
}

