import type { ConfigResource } from '../api/config-resource.ts';
import type { Clock } from '../lib/clock.ts';
import type { Container } from '../api/kube/pod.ts';
import type { Logger } from '../lib/log.ts';
import type { SidecarCommand } from './pod-instance.ts';
import type { BackoffOptions } from './supervised-process.ts';

/** What a local mesh runtime (mesh-runtime.ts) is built from, and what its changes answer. */
export interface MeshRuntimeOptions {
  stateDir: string;
  /** Prefix of every namespace this mesh creates (unique per mesh). */
  prefix: string;
  podCidr: string;
  serviceCidr: string;
  clock: Clock;
  log?: Logger;
  nodeBinary: string;
  /** Absolute path of bin/mizzen.js (control plane and sidecars run it). */
  cliEntry: string;
  /** Run `mizzen discovery` in the node namespace. */
  controlPlane: boolean;
  /** Build the sidecar command of an injected pod; undefined: pods run without sidecars. */
  sidecar?: (pod: SidecarContext) => Promise<SidecarCommand>;
  backoff?: BackoffOptions;
  baseEnv: Record<string, string>;
  /** Kind-level validation of Istio and Kubernetes resources (field paths), injected by the composition root. */
  validate?: (r: ConfigResource) => { path: string; message: string }[];
  /** Warnings about accepted resources (fields Mizzen does not implement), by field path. */
  warn?: (r: ConfigResource) => { path: string; message: string }[];
  /**
   * Ambient mode (pods labelled `istio.io/dataplane-mode=ambient`): the node's ztunnel is started
   * with a token bound to its Pod object; undefined: ambient labels are ignored (with a warning).
   */
  ambient?: {
    mintToken: (namespace: string, serviceAccount: string, pod: { name: string; uid: string }) => Promise<string>;
    /** Run Istio's own ztunnel (the Rust binary at this path) as the node's ztunnel instead of `mizzen proxy ztunnel`. */
    istioZtunnel?: string;
  };
  /** Called with every running pod's Pod object each time the runtime pushes pod state (addons discover pods from them). */
  onPodObjects?: (pods: readonly ConfigResource[]) => void;
}

/** What a sidecar command is built from. */
export interface SidecarContext {
  pod: string;
  namespace: string;
  ip: string;
  serviceAccount: string;
  discoveryAddress: string;
  podDir: string;
  labels: Record<string, string>;
  /** The owning workload (the Deployment's name), reported as WORKLOAD_NAME like Istio's injector. */
  workload: string;
  /** `router` for pods injected with Istio's gateway template (an ingress gateway). */
  proxyType: 'sidecar' | 'router' | 'waypoint';
  /** Istio's ProxyConfig for the pod (mesh defaultConfig + proxy.istio.io/config), as the injector computes it. */
  proxyConfig: Record<string, unknown>;
  /** The app's own prometheus.io/* settings (JSON) when metrics merging moved them (ISTIO_PROMETHEUS_ANNOTATIONS). */
  prometheusAnnotations?: string;
  /** The pod's own `istio-proxy` container (a gateway's placeholder): its env is applied over the injected proxy's. */
  proxyOverrides?: Container;
}

export interface ChangeResult {
  ok: boolean;
  errors: string[];
  /** kubectl-style lines: `deployment.apps/reviews-v1 created`. */
  changes: string[];
}
