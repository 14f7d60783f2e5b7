import { chownSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeCheck } from './readiness-probe.ts';
import type { SidecarCommand } from './pod-instance.ts';
import type { SidecarContext } from './mesh-runtime-options.ts';
import { PROXY_GID, PROXY_UID } from './capture-rules.ts';
import { containerEnv } from './container-env.ts';

export interface SidecarCommandOptions {
  nodeBinary: string;
  cliEntry: string;
  /** Mint the pod's service-account token (JWT the CA accepts). */
  mintToken: (namespace: string, serviceAccount: string) => Promise<string>;
  baseEnv: Record<string, string>;
  /** Discovery port the sidecar dials (15012: TLS + token; 15010: plaintext). */
  discoveryPort: number;
  /** The mesh root (discovery's --ca-dir/root-cert.pem): with it, the sidecar uses TLS to discovery. */
  caRootFile: string | undefined;
}

/** The proxy's readiness (Istio: :15021/healthz/ready; 15021 is never captured). */
export function sidecarReadyCheck(podIp: string): ProbeCheck {
  return { kind: 'http', host: podIp, port: 15021, path: '/healthz/ready', scheme: 'http' };
}

/**
 * The sidecar of an injected pod, as Istio's injector would configure istio-proxy: `mizzen
 * proxy sidecar` as uid/gid 1337 with the pod's identity in the environment (POD_NAME,
 * POD_NAMESPACE, INSTANCE_IP, SERVICE_ACCOUNT, ISTIO_META_*) and a token file for the
 * pod's service account.
 */
export async function prepareSidecar(ctx: SidecarContext, options: SidecarCommandOptions): Promise<SidecarCommand> {
  const tokenFile = join(ctx.podDir, 'istio-token');
  writeFileSync(tokenFile, await options.mintToken(ctx.namespace, ctx.serviceAccount), { mode: 0o600 });
  chownSync(tokenFile, PROXY_UID, PROXY_GID);
  // The proxy runs as 1337 and cannot read the CA directory: give it its own copy of the root.
  let caRoot: string | undefined;
  if (options.caRootFile && existsSync(options.caRootFile)) {
    caRoot = join(ctx.podDir, 'root-cert.pem');
    copyFileSync(options.caRootFile, caRoot);
    chownSync(caRoot, PROXY_UID, PROXY_GID);
  }
  const argv = [
    options.nodeBinary,
    options.cliEntry,
    'proxy',
    ctx.proxyType,
    '--discovery',
    `${ctx.discoveryAddress}:${options.discoveryPort}`,
    '--token-file',
    tokenFile,
    ...(caRoot ? ['--ca-root', caRoot] : []),
  ];
  const injected = {
    ...options.baseEnv,
    POD_NAME: ctx.pod,
    POD_NAMESPACE: ctx.namespace,
    INSTANCE_IP: ctx.ip,
    SERVICE_ACCOUNT: ctx.serviceAccount,
    ISTIO_META_WORKLOAD_NAME: ctx.workload,
    ISTIO_META_CLUSTER_ID: 'Kubernetes',
    ISTIO_META_MESH_ID: 'cluster.local',
    TRUST_DOMAIN: 'cluster.local',
    ISTIO_META_APP_CONTAINERS: '',
    ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
    ISTIO_META_LABELS: JSON.stringify(ctx.labels),
    // as Istio's injector: the pod's network (mizzen up labels each pod with the network it runs on)
    ...(ctx.labels['topology.istio.io/network'] ? { ISTIO_META_NETWORK: ctx.labels['topology.istio.io/network'] } : {}),
    // as Istio's injector: the canonical service and revision (span tags of outbound HCMs read them)
    CANONICAL_SERVICE: ctx.labels['service.istio.io/canonical-name'] ?? ctx.labels['app.kubernetes.io/name'] ?? ctx.labels.app ?? ctx.workload,
    CANONICAL_REVISION: ctx.labels['service.istio.io/canonical-revision'] ?? ctx.labels['app.kubernetes.io/version'] ?? ctx.labels.version ?? 'latest',
    PROXY_CONFIG_DIR: ctx.podDir,
    ...(Object.keys(ctx.proxyConfig).length > 0 ? { PROXY_CONFIG: JSON.stringify(ctx.proxyConfig) } : {}),
    ...(ctx.prometheusAnnotations ? { ISTIO_PROMETHEUS_ANNOTATIONS: ctx.prometheusAnnotations } : {}),
    // As Istio's ambient profile (meshConfig.defaultConfig.proxyMetadata): sidecars and gateways
    // send HBONE to ambient pods; ProxyConfig proxyMetadata (mesh default, pod annotation) overrides.
    ISTIO_META_ENABLE_HBONE: 'true',
    ...proxyMetadata(ctx.proxyConfig),
  };
  // A gateway's placeholder istio-proxy container: its env applies over the template's (the user's
  // values win, as Istio's injector merges that container), fieldRefs and $(VAR) as the kubelet resolves them.
  const env = containerEnv(ctx.proxyOverrides?.env, injected, { name: ctx.pod, namespace: ctx.namespace, ip: ctx.ip, serviceAccount: ctx.serviceAccount });
  return { argv, env, ready: sidecarReadyCheck(ctx.ip) };
}

/**
 * Does this pod's sidecar run with `ISTIO_META_ENABLE_HBONE=true` (the default here, as Istio's
 * ambient profile; ProxyConfig `proxyMetadata` may turn it off)? Istio's injector then labels the pod
 * `networking.istio.io/tunnel: http`, and istiod tells ztunnel the pod takes HBONE.
 */
export function sidecarEnablesHbone(proxyConfig: Readonly<Record<string, unknown>>): boolean {
  return /^true$/i.test(proxyMetadata(proxyConfig).ISTIO_META_ENABLE_HBONE ?? 'true');
}

/** ProxyConfig `proxyMetadata`: environment variables for the proxy, as istio-agent applies them. */
export function proxyMetadata(proxyConfig: Readonly<Record<string, unknown>>): Record<string, string> {
  const m = proxyConfig.proxyMetadata;
  if (!m || typeof m !== 'object') return {};
  return Object.fromEntries(Object.entries(m as Record<string, unknown>).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, v as string]));
}
