import type { ConfigResource } from '../api/config-resource.ts';
import type { Container, PodSpec } from '../api/kube/pod.ts';
import type { PodPlan } from './pod-plan.ts';
import { podProxyConfig } from './pod-proxy-config.ts';
import { applyPrometheusMerge, meshPrometheusMerge } from './prometheus-merge.ts';
import { decideInjection } from './sidecar-injection.ts';

/** What Istio's sidecar injector makes of one pod of a plan. */
export interface PodInjection {
  /** Istio's gateway template (`inject.istio.io/templates: gateway`): the pod is the proxy, no capture. */
  gateway: boolean;
  /** Istio's waypoint template (a Gateway of class istio-waypoint): the pod runs `mizzen proxy waypoint`. */
  waypoint: boolean;
  /** The spec to run: a gateway's placeholder `istio-proxy` container removed. */
  spec: PodSpec;
  /**
   * A gateway's placeholder `istio-proxy` container (`image: auto`): its fields apply over the
   * injected proxy's, as Istio's injector merges them (its env reaches the proxy's environment).
   */
  proxyOverrides?: Container;
  serviceAccount: string;
  /** The pod gets a sidecar (by Istio's injection rules and when sidecars are on). */
  inject: boolean;
  /** Injection rules say yes, whether or not sidecars are on. */
  wanted: boolean;
  /** Istio's ProxyConfig for the pod (mesh defaultConfig + proxy.istio.io/config). */
  proxyConfig: Record<string, unknown>;
  /** The pod's annotations after injection (metrics merging points prometheus.io/* at the agent). */
  annotations: Record<string, string>;
  /** istio-proxy's ISTIO_PROMETHEUS_ANNOTATIONS: the app's own scrape settings, when it had any. */
  prometheusAnnotations?: string;
}

/**
 * The injector's decisions for a pod: whether it gets a sidecar (sidecar-injection.ts), the
 * gateway template, its ProxyConfig, and metrics merging (an injected pod is scraped on the
 * agent's merged endpoint, the status port 15020 unless ProxyConfig `statusPort` says otherwise).
 */
export function podInjection(plan: PodPlan, namespaceLabels: Readonly<Record<string, string>>, configMaps: readonly ConfigResource[], sidecarsOn: boolean): PodInjection {
  const { labels, annotations } = plan;
  // Istio's gateway and waypoint injection templates: the pod is the proxy (`mizzen proxy router`,
  // `mizzen proxy waypoint`), no capture.
  const templates = (annotations['inject.istio.io/templates'] ?? '').split(',');
  const waypoint = templates.includes('waypoint');
  const gateway = templates.includes('gateway') || waypoint;
  const spec = gateway ? { ...plan.spec, containers: (plan.spec.containers ?? []).filter((c) => c.name !== 'istio-proxy') } : plan.spec;
  const proxyOverrides = gateway ? plan.spec.containers?.find((c) => c.name === 'istio-proxy') : undefined;
  const serviceAccount = spec.serviceAccountName ?? spec.serviceAccount ?? 'default';
  const wanted = decideInjection({ namespace: plan.namespace, namespaceLabels, podLabels: labels, podAnnotations: annotations, hostNetwork: spec.hostNetwork }).inject;
  const inject = wanted && sidecarsOn;
  const proxyConfig = podProxyConfig(configMaps, annotations);
  const statusPort = typeof proxyConfig.statusPort === 'number' ? proxyConfig.statusPort : 15020;
  const merge = inject ? applyPrometheusMerge(annotations, meshPrometheusMerge(configMaps), statusPort) : { annotations: { ...annotations } };
  // As Istio's injector: kubectl logs/exec without -c pick the app, not the injected proxy.
  const app = (spec.containers ?? []).find((c) => c.name !== 'istio-proxy');
  if (inject && !gateway && app && merge.annotations['kubectl.kubernetes.io/default-container'] === undefined) merge.annotations['kubectl.kubernetes.io/default-container'] = app.name;
  return { gateway, waypoint, spec, ...(proxyOverrides ? { proxyOverrides } : {}), serviceAccount, inject, wanted, proxyConfig, annotations: merge.annotations, ...(merge.env ? { prometheusAnnotations: merge.env } : {}) };
}
