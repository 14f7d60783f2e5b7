import { readFileSync } from 'node:fs';
import { parseDuration } from '../lib/duration.ts';
import { MizzenError } from '../lib/errors.ts';
import { trimSchedule } from '../lib/executable-pages.ts';
import type { ProxyType } from '../data/xds-client/node-identity.ts';
import { parseNodeId } from '../data/xds-client/node-identity.ts';
import type { AccessLogOptions } from '../data/telemetry/access-log.ts';
import { scrapeTargetOf, type AppScrapeTarget } from '../data/telemetry/merged-metrics-server.ts';
import { parseAppProbers, type AppProber } from '../data/telemetry/app-health-prober.ts';

/** Flags of `mizzen proxy sidecar|router` as commander gives them. */
export interface ProxyFlags {
  discovery?: string;
  id?: string;
  ip?: string;
  pod?: string;
  namespace?: string;
  serviceAccount?: string;
  labels?: string;
  adminPort: string;
  readinessPort: string;
  prometheusPort: string;
  mergedMetricsPort?: string;
  accessLogFile?: string;
  accessLogEncoding?: string;
  caAddress?: string;
  ca: boolean;
  caRoot?: string;
  tokenFile?: string;
  outboundPort?: string;
  inboundPort?: string;
  xdsProtocol: string;
  drainGrace: string;
  drainDuration?: string;
  trustDomain?: string;
}

/** Everything `mizzen proxy` runs with, parsed once from flags and istio-agent's env vars. */
export interface ProxyCommandConfig {
  type: ProxyType;
  discovery: string;
  nodeId: string | undefined;
  ip: string;
  podName: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  meta: Record<string, string>;
  adminPort: number;
  readinessPort: number | undefined;
  prometheusPort: number | undefined;
  /** 15020: merged Prometheus (proxy + app from ISTIO_PROMETHEUS_ANNOTATIONS). */
  mergedMetricsPort: number | undefined;
  appMetrics: AppScrapeTarget | undefined;
  /** ISTIO_KUBE_APP_PROBERS: the injector's rewritten app probes. */
  appProbers: ReadonlyMap<string, AppProber> | undefined;
  accessLog: AccessLogOptions | undefined;
  caAddress: string | undefined;
  caRootPem: string | undefined;
  tokenFile: string | undefined;
  outboundPort: number | undefined;
  /** ISTIO_META_DNS_CAPTURE (sidecars): the DNS proxy's address (DNS_PROXY_ADDR, default 127.0.0.1:15053) and the resolvers it forwards to (/etc/resolv.conf). */
  dns: { address: string; port: number; upstreams: string[] } | undefined;
  inboundPort: number | undefined;
  xdsProtocol: 'delta' | 'sotw';
  drainGraceMs: number;
  /** Listener updates: how long connections on changed filter chains may finish (ProxyConfig drainDuration). */
  drainDurationMs: number;
  /** The workload certificate lifetime asked of the CA (istio-agent's SECRET_TTL); 0: the CA's default (24h). */
  secretTtlSeconds: number;
  /** The OS CA bundle for `file-root:system` (OpenSSL's SSL_CERT_FILE); undefined: istio-agent's search list. */
  systemCaFile: string | undefined;
  trustDomain: string;
  logLevels: string | undefined;
  /**
   * When (ms after start) to drop the node binary's start-up pages from RSS
   * (src/lib/executable-pages.ts); MIZZEN_PROXY_TRIM_PAGES=off: never.
   */
  trimFilePagesAtMs: readonly number[];
  /** The proxy's environment, for Envoy's `environment` span tags (istio-proxy's CANONICAL_SERVICE, ...). */
  environment: Readonly<Record<string, string>>;
}

function port(v: string | undefined, flag: string): number | undefined {
  if (v === undefined || v === '' || v === 'none') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MizzenError('USAGE', `${flag} must be a port number (got ${v})`);
  return n;
}

function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  const t = s.trim();
  if (t.startsWith('{')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(t) as Record<string, unknown>)) out[k] = String(v);
      return out;
    } catch {
      throw new MizzenError('USAGE', `labels: invalid JSON ${JSON.stringify(t.slice(0, 60))}`);
    }
  }
  for (const part of t.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new MizzenError('USAGE', `--labels: expected k=v,... (got ${JSON.stringify(part)})`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/**
 * Istio's ProxyConfig as the injector hands it to istio-agent (env PROXY_CONFIG, JSON): the
 * fields the proxy uses. Anything else is ignored (it configures parts Mizzen does not have).
 */
function proxyConfigEnv(text: string | undefined): { drainDuration?: string } {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as { drainDuration?: string }) : {};
  } catch {
    throw new MizzenError('USAGE', `PROXY_CONFIG must be JSON (Istio's ProxyConfig), got ${JSON.stringify(text.slice(0, 60))}`);
  }
}

/** Flags win over env; env uses istio-agent's names. */
export function proxyConfig(type: ProxyType, f: ProxyFlags, env: NodeJS.ProcessEnv): ProxyCommandConfig {
  const discovery = f.discovery ?? env.DISCOVERY_ADDRESS ?? env.PILOT_ADDRESS;
  if (!discovery) throw new MizzenError('USAGE', '--discovery HOST:PORT is required (or DISCOVERY_ADDRESS)', { hint: 'discovery listens on 15010 (plaintext) and 15012 (TLS)' });
  if (!/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(discovery)) throw new MizzenError('USAGE', `--discovery must be HOST:PORT (got ${discovery})`);
  const parsedId = f.id ? parseNodeId(f.id) : undefined;
  if (f.id && !parsedId) throw new MizzenError('USAGE', `--id must look like ${type}~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local (got ${f.id})`);
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('ISTIO_META_') && v !== undefined && k !== 'ISTIO_META_LABELS') meta[k.slice('ISTIO_META_'.length)] = v;
  const labels = { ...parseLabels(env.ISTIO_META_LABELS), ...parseLabels(f.labels) };
  const ip = f.ip ?? parsedId?.ip ?? env.INSTANCE_IP ?? '127.0.0.1';
  const podName = f.pod ?? parsedId?.podName ?? env.POD_NAME ?? (type === 'router' ? 'istio-ingressgateway' : 'local');
  const namespace = f.namespace ?? parsedId?.namespace ?? env.POD_NAMESPACE ?? (type === 'router' ? 'istio-system' : 'default');
  let caRootPem: string | undefined;
  if (f.caRoot) {
    try {
      caRootPem = readFileSync(f.caRoot, 'utf8');
    } catch (err) {
      throw new MizzenError('USAGE', `--ca-root ${f.caRoot}: ${(err as Error).message}`);
    }
  }
  const proto = f.xdsProtocol;
  if (proto !== 'delta' && proto !== 'sotw') throw new MizzenError('USAGE', `--xds-protocol must be delta or sotw (got ${proto})`);
  const encoding = (f.accessLogEncoding ?? 'TEXT').toUpperCase();
  if (encoding !== 'TEXT' && encoding !== 'JSON') throw new MizzenError('USAGE', `--access-log-encoding must be TEXT or JSON (got ${f.accessLogEncoding})`);
  let appMetrics: AppScrapeTarget | undefined;
  if (env.ISTIO_PROMETHEUS_ANNOTATIONS) {
    try {
      appMetrics = scrapeTargetOf(JSON.parse(env.ISTIO_PROMETHEUS_ANNOTATIONS) as Record<string, string>);
    } catch {
      throw new MizzenError('USAGE', `ISTIO_PROMETHEUS_ANNOTATIONS must be JSON like {"scrape":"true","port":"8080","path":"/metrics"}`);
    }
  }
  const drainText = f.drainDuration ?? proxyConfigEnv(env.PROXY_CONFIG).drainDuration ?? '45s';
  const drainDurationMs = parseDuration(String(drainText));
  if (drainDurationMs === undefined) throw new MizzenError('USAGE', `drain duration must be a duration like 45s (got ${drainText})`);
  // unset: 0 asks for the CA's default lifetime (24h, as istio-agent's SECRET_TTL default)
  const secretTtlMs = env.SECRET_TTL === undefined || env.SECRET_TTL === '' ? 0 : parseDuration(env.SECRET_TTL);
  if (secretTtlMs === undefined || (secretTtlMs > 0 && secretTtlMs < 1000)) throw new MizzenError('USAGE', `SECRET_TTL must be a duration of at least 1s like 24h or 2m (got ${env.SECRET_TTL})`);
  let appProbers: Map<string, AppProber> | undefined;
  if (env.ISTIO_KUBE_APP_PROBERS) {
    try {
      appProbers = parseAppProbers(env.ISTIO_KUBE_APP_PROBERS);
    } catch (err) {
      throw new MizzenError('USAGE', `ISTIO_KUBE_APP_PROBERS ${(err as Error).message}`);
    }
  }
  const grace = Number(f.drainGrace.replace(/s$/, ''));
  if (!Number.isFinite(grace) || grace < 0) throw new MizzenError('USAGE', `--drain-grace must be seconds (got ${f.drainGrace})`);
  return Object.freeze({
    type,
    discovery,
    nodeId: f.id,
    ip,
    podName,
    namespace,
    serviceAccount: f.serviceAccount ?? env.SERVICE_ACCOUNT ?? 'default',
    labels,
    meta,
    adminPort: port(f.adminPort, '--admin-port') ?? 15000,
    readinessPort: port(f.readinessPort, '--readiness-port'),
    prometheusPort: port(f.prometheusPort, '--prometheus-port'),
    // served with Prometheus (15090): disabling that disables the merge unless asked for explicitly
    mergedMetricsPort: f.mergedMetricsPort !== undefined ? port(f.mergedMetricsPort, '--merged-metrics-port') : port(f.prometheusPort, '--prometheus-port') === undefined ? undefined : 15020,
    appMetrics,
    appProbers,
    accessLog: f.accessLogFile ? { path: f.accessLogFile, encoding: encoding as 'TEXT' | 'JSON' } : undefined,
    caAddress: f.ca ? f.caAddress ?? env.CA_ADDR ?? discovery : undefined,
    caRootPem,
    tokenFile: f.tokenFile ?? env.TOKEN_FILE,
    outboundPort: port(f.outboundPort, '--outbound-port'),
    dns: type === 'sidecar' && /^(1|t|true)$/i.test(env.ISTIO_META_DNS_CAPTURE ?? '') ? dnsProxyConfig(env.DNS_PROXY_ADDR) : undefined,
    inboundPort: port(f.inboundPort, '--inbound-port'),
    xdsProtocol: proto,
    drainGraceMs: grace * 1000,
    drainDurationMs,
    secretTtlSeconds: Math.round(secretTtlMs / 1000),
    systemCaFile: env.SSL_CERT_FILE || undefined,
    trustDomain: f.trustDomain ?? env.TRUST_DOMAIN ?? 'cluster.local',
    logLevels: env.MIZZEN_LOG,
    trimFilePagesAtMs: trimSchedule(env.MIZZEN_PROXY_TRIM_PAGES),
    environment: Object.freeze(Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))),
  });
}

/** istio-agent's DNS proxy address (DNS_PROXY_ADDR, `localhost:15053`) and the pod's resolvers. */
function dnsProxyConfig(addr: string | undefined): { address: string; port: number; upstreams: string[] } {
  const text = addr ?? 'localhost:15053';
  const m = /^(.*):(\d+)$/.exec(text);
  const p = m ? Number(m[2]) : NaN;
  if (!m || !(p >= 0 && p < 65536)) throw new MizzenError('USAGE', `DNS_PROXY_ADDR must be HOST:PORT (got ${text})`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  let upstreams: string[] = [];
  try {
    upstreams = readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  } catch {
    // no resolv.conf: names outside the mesh get SERVFAIL
  }
  return { address: host === 'localhost' || host === '' ? '127.0.0.1' : host, port: p, upstreams };
}
