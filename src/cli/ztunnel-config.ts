import { readFileSync } from 'node:fs';
import { MizzenError } from '../lib/errors.ts';
import { trimSchedule } from '../lib/executable-pages.ts';

/** Flags of `mizzen proxy ztunnel`. */
export interface ZtunnelFlags {
  discovery?: string;
  caAddress?: string;
  caRoot?: string;
  tokenFile?: string;
  pod?: string;
  namespace?: string;
  ip?: string;
  node?: string;
  clusterId?: string;
  network?: string;
  zdsSocket?: string;
  onDemand?: boolean;
  adminPort: string;
  readinessPort: string;
  metricsPort: string;
  accessLogFile?: string;
  dnsCapture?: boolean;
  trustDomain?: string;
}

export interface ZtunnelCommandConfig {
  discovery: string;
  caAddress: string;
  caRootPem: string | undefined;
  tokenFile: string | undefined;
  podName: string;
  namespace: string;
  ip: string;
  nodeName: string;
  clusterId: string;
  network: string;
  zdsSocket: string;
  onDemand: boolean;
  adminPort: number | undefined;
  readinessPort: number | undefined;
  metricsPort: number | undefined;
  accessLogFile: string | undefined;
  /** Serve DNS on 15053 in every pod (ISTIO_META_DNS_CAPTURE), forwarding to these resolvers. */
  dnsCapture: boolean;
  dnsUpstreams: readonly string[];
  trustDomain: string;
  logLevels: string | undefined;
  /** When (ms after start) to give back malloc's free memory and the node binary's start-up pages, as the sidecar does (src/lib/executable-pages.ts); MIZZEN_PROXY_TRIM_PAGES=off: never. */
  trimFilePagesAtMs: readonly number[];
}

/** The resolvers of this process's resolv.conf (ztunnel forwards names it does not know there). */
function resolvConfServers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined);
  } catch {
    return [];
  }
}

function port(v: string | undefined, flag: string): number | undefined {
  if (v === undefined || v === '' || v === 'none') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MizzenError('USAGE', `${flag} must be a port number (got ${v})`);
  return n;
}

/** Flags win over ztunnel's environment variables (XDS_ADDRESS, CA_ADDRESS, POD_NAME, NODE_NAME, INPOD_UDS, XDS_ON_DEMAND, ...). */
export function ztunnelConfig(f: ZtunnelFlags, env: NodeJS.ProcessEnv): ZtunnelCommandConfig {
  const discovery = f.discovery ?? env.XDS_ADDRESS ?? env.DISCOVERY_ADDRESS;
  if (!discovery) throw new MizzenError('USAGE', '--discovery HOST:PORT is required (or XDS_ADDRESS)', { hint: 'discovery listens on 15010 (plaintext) and 15012 (TLS)' });
  const plain = (s: string): string => s.replace(/^https?:\/\//, '');
  let caRootPem: string | undefined;
  const rootFile = f.caRoot ?? env.CA_ROOT_CA;
  if (rootFile) {
    try {
      caRootPem = readFileSync(rootFile, 'utf8');
    } catch (err) {
      throw new MizzenError('USAGE', `--ca-root ${rootFile}: ${(err as Error).message}`);
    }
  }
  const onDemandEnv = env.XDS_ON_DEMAND;
  return Object.freeze({
    discovery: plain(discovery),
    caAddress: plain(f.caAddress ?? env.CA_ADDRESS ?? discovery),
    caRootPem,
    tokenFile: f.tokenFile ?? env.TOKEN_FILE,
    podName: f.pod ?? env.POD_NAME ?? 'ztunnel',
    namespace: f.namespace ?? env.POD_NAMESPACE ?? 'istio-system',
    ip: f.ip ?? env.INSTANCE_IP ?? '127.0.0.1',
    nodeName: f.node ?? env.NODE_NAME ?? '',
    clusterId: f.clusterId ?? env.CLUSTER_ID ?? 'Kubernetes',
    network: f.network ?? env.NETWORK ?? '',
    zdsSocket: f.zdsSocket ?? env.INPOD_UDS ?? '/var/run/ztunnel/ztunnel.sock',
    onDemand: f.onDemand ?? (onDemandEnv !== undefined && /^(1|t|true|on)$/i.test(onDemandEnv)),
    adminPort: port(f.adminPort, '--admin-port'),
    readinessPort: port(f.readinessPort, '--readiness-port'),
    metricsPort: port(f.metricsPort, '--metrics-port'),
    accessLogFile: f.accessLogFile,
    dnsCapture: f.dnsCapture ?? /^(1|t|true)$/i.test(env.ISTIO_META_DNS_CAPTURE ?? env.DNS_CAPTURE ?? ''),
    dnsUpstreams: resolvConfServers(),
    trustDomain: f.trustDomain ?? env.TRUST_DOMAIN ?? 'cluster.local',
    logLevels: env.MIZZEN_LOG,
    trimFilePagesAtMs: trimSchedule(env.MIZZEN_PROXY_TRIM_PAGES),
  });
}
