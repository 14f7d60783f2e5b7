import type { ConfigResource } from '../api/config-resource.ts';
import { overlayContainer } from '../api/kube/container-overlay.ts';
import type { PodInstanceOptions, PodStatusView } from './pod-instance.ts';

function podEnded(status: PodStatusView): 'Succeeded' | 'Failed' | undefined {
  const apps = status.containers.filter((c) => c.name !== 'istio-proxy' || !status.sidecar);
  if (apps.length === 0 || !apps.every((c) => c.status.phase === 'Completed' || c.status.phase === 'Error')) return undefined;
  return apps.every((c) => c.status.phase === 'Completed') ? 'Succeeded' : 'Failed';
}

/**
 * The Pod object the control plane sees for a running pod (its registry derives workloads and
 * endpoints from Pods): labels (plus `security.istio.io/tlsMode: istio` when injected with a
 * sidecar, as Istio's injector adds; not for its gateway template; and `networking.istio.io/tunnel:
 * http` for a sidecar that takes HBONE), service account, container ports, and status with podIP and Ready.
 */
export function podResource(status: PodStatusView, options: PodInstanceOptions): ConfigResource {
  const labels: Record<string, string> = { ...options.labels };
  const annotations: Record<string, string> = { ...options.annotations };
  const containers: Record<string, unknown>[] = (options.spec.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? 'local', ports: c.ports ?? [] }));
  if (options.sidecar) {
    // Istio's gateway template (no capture: the pod is the proxy) sets no tlsMode label, so
    // sidecars reach gateways (an egress gateway's plaintext HTTP server) without auto mTLS.
    const gateway = options.capture === false;
    if (!gateway) labels['security.istio.io/tlsMode'] = 'istio';
    labels['service.istio.io/canonical-name'] ??= options.labels['app'] ?? options.owner?.split('/')[1] ?? options.name;
    labels['service.istio.io/canonical-revision'] ??= options.labels['version'] ?? 'latest';
    // as Istio's injector for a sidecar with ISTIO_META_ENABLE_HBONE=true: it takes HBONE on 15008
    if (options.hboneInbound) labels['networking.istio.io/tunnel'] ??= 'http';
    annotations['sidecar.istio.io/status'] = JSON.stringify({ containers: ['istio-proxy'], initContainers: gateway ? null : ['istio-init'] });
    // a gateway's placeholder container merged over the injected proxy (its ports, by containerPort)
    const proxy = { name: 'istio-proxy', image: 'mizzen/proxy', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] };
    containers.push(options.proxyOverrides ? overlayContainer(proxy, { ports: options.proxyOverrides.ports ?? [] }) : proxy);
  }
  const metadata = { name: options.name, namespace: options.namespace, labels, annotations };
  const spec = { serviceAccountName: options.serviceAccount, nodeName: 'mizzen-node', containers };
  const podStatus = {
    // A bare Pod with restartPolicy Never/OnFailure whose app containers ended: Succeeded/Failed.
    phase: status.phase === 'ContainerCreating' ? 'Pending' : podEnded(status) ?? 'Running',
    podIP: options.ip,
    podIPs: [{ ip: options.ip }],
    hostIP: options.node.address,
    conditions: [
      { type: 'Ready', status: status.ready ? 'True' : 'False' },
      { type: 'ContainersReady', status: status.ready ? 'True' : 'False' },
    ],
  };
  const raw = { apiVersion: 'v1', kind: 'Pod', metadata, spec, status: podStatus };
  return { apiVersion: 'v1', kind: 'Pod', group: '', version: 'v1', metadata, spec, raw };
}
