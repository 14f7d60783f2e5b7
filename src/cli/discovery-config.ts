import { MizzenError } from '../lib/errors.ts';
import { parseDuration } from '../lib/duration.ts';
import { parseListenAddress } from '../control/debug/listen-address.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfigSource } from '../lib/kube/kube-api.ts';

/** `mizzen discovery` flags, as commander hands them over. */
export interface DiscoveryFlags {
  config?: string[];
  caDir?: string;
  trustDomain: string;
  grpcAddr: string;
  secureGrpcAddr: string;
  httpAddr: string;
  httpSocket?: string;
  servingHost?: string[];
  kube?: boolean;
  kubeconfig?: string;
  webhookAddr: string;
  revision?: string;
}

/** Everything the command needs, parsed once from flags and the environment. */
export interface DiscoveryConfig {
  readonly configPaths: readonly string[];
  readonly tlsOnSidecarIngress: boolean;
  readonly caDir: string | undefined;
  readonly trustDomain: string;
  readonly grpcAddr: string;
  readonly secureGrpcAddr: string;
  readonly httpAddr: string;
  readonly httpSocket: string | undefined;
  readonly servingHosts: readonly string[];
  readonly debounceAfterMs: number;
  readonly debounceMaxMs: number;
  readonly pushConcurrency: number;
  readonly logLevels: string | undefined;
  /** CA_TRUSTED_NODE_ACCOUNTS: `ns/sa` of node proxies that may request their pods' certificates. */
  readonly trustedNodeAccounts: readonly string[];
  /** Kubernetes mode: where the API server is and who we are there. */
  readonly kube: {
    readonly config: KubeConfigSource;
    readonly systemNamespace: string;
    readonly revision: string;
    readonly identity: string | undefined;
    readonly leaseDurationMs: number;
    readonly webhookHost: string;
    readonly webhookPort: number;
  } | undefined;
}

function envDuration(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < 0) throw new MizzenError('USAGE', `${name}=${JSON.stringify(raw)} is not a duration (examples: 100ms, 1s, 10s)`);
  return ms;
}

/**
 * Where `--kube` finds the API server: `--kubeconfig FILE`, else in-cluster credentials when
 * running in a pod (KUBERNETES_SERVICE_HOST), else $KUBECONFIG, else ~/.kube/config.
 */
function kubeConfigSource(flags: DiscoveryFlags, env: NodeJS.ProcessEnv): KubeConfigSource {
  if (flags.kubeconfig) return { file: flags.kubeconfig };
  if (env.KUBERNETES_SERVICE_HOST) return { inCluster: true };
  const fromEnv = env.KUBECONFIG?.split(':').find((f) => f !== '');
  return { file: fromEnv ?? join(env.HOME ?? homedir(), '.kube', 'config') };
}

/**
 * The only place `mizzen discovery` reads the environment (PILOT_DEBOUNCE_*, PILOT_PUSH_THROTTLE,
 * MIZZEN_LOG, ENABLE_TLS_ON_SIDECAR_INGRESS; with --kube also POD_NAME, POD_NAMESPACE, REVISION, KUBECONFIG,
 * KUBERNETES_SERVICE_HOST, MIZZEN_LEASE_DURATION).
 */
export function discoveryConfig(flags: DiscoveryFlags, env: NodeJS.ProcessEnv): DiscoveryConfig {
  const paths = flags.config ?? [];
  const kubeMode = flags.kube === true || flags.kubeconfig !== undefined;
  if (paths.length === 0 && !kubeMode) throw new MizzenError('USAGE', 'mizzen discovery needs at least one --config DIR (a directory of Istio YAML, watched for changes) or --kube (read config from the Kubernetes API server)');
  let webhook: { host: string; port: number } | undefined;
  if (kubeMode) {
    const w = parseListenAddress(flags.webhookAddr, 15017);
    if (w.path || w.host === undefined || w.port === undefined) throw new MizzenError('USAGE', `--webhook-addr ${flags.webhookAddr} must be HOST:PORT`);
    webhook = { host: w.host, port: w.port };
  }
  // Check every address before anything starts listening.
  parseListenAddress(flags.grpcAddr, 15010);
  parseListenAddress(flags.httpAddr, 15014);
  if (flags.caDir) parseListenAddress(flags.secureGrpcAddr, 15012);
  const throttle = env.PILOT_PUSH_THROTTLE ? Number(env.PILOT_PUSH_THROTTLE) : 100;
  if (!Number.isInteger(throttle) || throttle < 1) throw new MizzenError('USAGE', `PILOT_PUSH_THROTTLE=${env.PILOT_PUSH_THROTTLE} must be a positive integer`);
  return Object.freeze({
    configPaths: Object.freeze([...paths]),
    caDir: flags.caDir,
    trustDomain: flags.trustDomain,
    grpcAddr: flags.grpcAddr,
    secureGrpcAddr: flags.secureGrpcAddr,
    httpAddr: flags.httpAddr,
    httpSocket: flags.httpSocket,
    servingHosts: Object.freeze(flags.servingHost ?? ['localhost', '127.0.0.1']),
    debounceAfterMs: envDuration(env, 'PILOT_DEBOUNCE_AFTER', 100),
    debounceMaxMs: envDuration(env, 'PILOT_DEBOUNCE_MAX', 10_000),
    pushConcurrency: throttle,
    tlsOnSidecarIngress: env.ENABLE_TLS_ON_SIDECAR_INGRESS === 'true' || env.ENABLE_TLS_ON_SIDECAR_INGRESS === '1',
    logLevels: env.MIZZEN_LOG,
    trustedNodeAccounts: Object.freeze(
      env.CA_TRUSTED_NODE_ACCOUNTS !== undefined
        ? env.CA_TRUSTED_NODE_ACCOUNTS.split(',').map((s) => s.trim()).filter(Boolean)
        : ['istio-system/ztunnel'],
    ),
    kube: webhook
      ? Object.freeze({
          config: kubeConfigSource(flags, env),
          systemNamespace: env.POD_NAMESPACE || 'istio-system',
          revision: flags.revision ?? (env.REVISION || 'default'),
          identity: env.POD_NAME || undefined,
          leaseDurationMs: envDuration(env, 'MIZZEN_LEASE_DURATION', 30_000),
          webhookHost: webhook.host,
          webhookPort: webhook.port,
        })
      : undefined,
  });
}
