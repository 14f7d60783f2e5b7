/**
 * A load simulator in its own process, like Istio's pilot-load: opens N SotW ADS streams (spread
 * over several lean gRPC channels, src/lib/grpc-wire), each as a sidecar with its own node ID and
 * Istio's node metadata, and ACKs every response as Envoy would (reading only the envelope, from
 * the message parts as they arrive: see response-head-parser.ts).
 *
 * subscribe 'named' (default) does what Envoy does: wildcard CDS; EDS by name for the EDS
 * clusters of each CDS response (before ACKing it); LDS once the first EDS response is in
 * (clusters warmed); RDS by name for the route configurations the listeners name; every ACK
 * repeats the names (an empty list on EDS/RDS would unsubscribe). 'wildcard' subscribes to all
 * four types with empty names at once (legacy wildcard, as Istio's pilot-load does).
 * Cluster and listener names are decoded once per distinct response (all simulated proxies are
 * alike: same version and size, same names).
 *
 * argv: JSON {address, proxies, channels, namespace, subscribe?}
 * stdin: `watch TYPE [TIMEOUT_MS]` (TYPE: cds|eds|lds|rds) starts a convergence measurement from
 * now; `quiet MS [MAX_MS]` waits until no response of any type has arrived for MS ms (a control
 * plane still working through earlier pushes would otherwise be measured mid-push).
 * stdout: `synced {"bytes": {TYPE: N}}` once every stream has had a response of every type (bytes:
 * response bytes received so far per type); then per watch a JSON line
 * {type, proxies, converged, p50_ms, p99_ms, max_ms, responses, resources_per_response, versions} one
 * second after every proxy has ACKed a new response of that type (or after TIMEOUT_MS, default
 * 60 s, with converged < proxies); `responses` counts the responses of every type received
 * meanwhile. Per quiet: `quiet {"quiet": true|false, "waited_ms", "responses"}` (false: MAX_MS,
 * default 600 s, passed first; responses: how many arrived while waiting).
 */
import { createInterface } from 'node:readline';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { GrpcChannel } from '../../src/lib/grpc-wire/grpc-channel.ts';
import type { GrpcClientStream } from '../../src/lib/grpc-wire/grpc-client-stream.ts';
import { jsonToStruct } from '../../src/control/xds/proxy-info.ts';
import { ResponseHeadParser, type ResponseHead } from './response-head-parser.ts';

interface Options {
  address: string;
  proxies: number;
  channels: number;
  namespace: string;
  subscribe?: 'named' | 'wildcard';
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const root = loadEnvoyRoot();
const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const TYPES = { cds: TYPE_URL.cluster, eds: TYPE_URL.endpoint, lds: TYPE_URL.listener, rds: TYPE_URL.route } as const;
type Short = keyof typeof TYPES;
const SHORT = new Map<string, Short>(Object.entries(TYPES).map(([k, v]) => [v, k as Short]));
const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const encodeRequest = (m: object): Uint8Array => Req.encode(Req.fromObject(m)).finish();
const named = (opts.subscribe ?? 'named') === 'named';
const Cluster = root.lookupType('envoy.config.cluster.v3.Cluster');
const Listener = root.lookupType('envoy.config.listener.v3.Listener');
const Hcm = root.lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
const HCM_TYPE = `type.googleapis.com/${Hcm.fullName.slice(1)}`;
const EDS_TYPE = 3; // Cluster.DiscoveryType.EDS

/** A subscription's names, sorted, with DiscoveryRequest.resource_names (field 3) encoded once. */
interface NameSet {
  key: string;
  names: string[];
  encoded: Uint8Array;
}
function nameSet(names: Iterable<string>): NameSet {
  const sorted = [...new Set(names)].sort();
  return { key: sorted.join('\n'), names: sorted, encoded: Req.encode(Req.fromObject({ resourceNames: sorted })).finish() };
}
/** Names derived from a response, by type, version, size and count (see the file comment). */
const derived = new Map<string, NameSet>();
function derivedNames(r: ResponseHead): NameSet {
  const key = `${r.typeUrl}\0${r.versionInfo}\0${r.bytes}\0${r.resources}`;
  let set = derived.get(key);
  if (!set) {
    const values = (r.captured ?? []).map((parts) => Buffer.concat(parts));
    set = nameSet(r.typeUrl === TYPE_URL.cluster ? values.flatMap(edsNameOf) : values.flatMap(routeNamesOf));
    derived.set(key, set);
  }
  return set;
}
function edsNameOf(value: Buffer): string[] {
  const c = Cluster.decode(value) as unknown as { name: string; type?: number; edsClusterConfig?: { serviceName?: string } };
  return c.type === EDS_TYPE ? [c.edsClusterConfig?.serviceName || c.name] : [];
}
function routeNamesOf(value: Buffer): string[] {
  type Filter = { typedConfig?: { type_url?: string; typeUrl?: string; value?: Uint8Array } };
  const l = Listener.decode(value) as unknown as { filterChains?: { filters?: Filter[] }[]; defaultFilterChain?: { filters?: Filter[] } };
  const out: string[] = [];
  for (const chain of [...(l.filterChains ?? []), ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])]) {
    for (const f of chain.filters ?? []) {
      const any = f.typedConfig;
      if (!any?.value || (any.type_url ?? any.typeUrl) !== HCM_TYPE) continue;
      const hcm = Hcm.decode(any.value) as unknown as { rds?: { routeConfigName?: string } };
      if (hcm.rds?.routeConfigName) out.push(hcm.rds.routeConfigName);
    }
  }
  return out;
}
/** A request: version_info=1, [node=2], resource_names=3 (pre-encoded), type_url=4, response_nonce=5. */
function request(typeUrl: string, names: NameSet | undefined, ack?: { version: string; nonce: string }, node?: object): Uint8Array {
  const head = encodeRequest({ ...(node ? { node } : {}), ...(ack ? { versionInfo: ack.version, responseNonce: ack.nonce } : {}), typeUrl });
  return names && names.names.length > 0 ? Buffer.concat([head, names.encoded]) : head;
}

/** Response bytes received per type (all streams): what the initial sync transfers. */
const bytesReceived: Record<Short, number> = { cds: 0, eds: 0, lds: 0, rds: 0 };
// The lean gRPC channel (src/lib/grpc-wire) has Envoy's HTTP/2 windows for its xDS connection:
// 256 MiB per stream and connection (gRPC's 64 KiB default would make every 1.6 MB EDS response
// wait for ~25 WINDOW_UPDATE round trips).
const clients = Array.from({ length: opts.channels }, () => new GrpcChannel({ target: opts.address, maxReceiveMessageBytes: 1024 * 1024 * 1024 }));
const seen: Set<Short>[] = [];
let synced = 0;
interface Watch {
  type: Short;
  t0: number;
  times: (number | undefined)[];
  count: number;
  /** Responses of each type received while watching (shows whether a change pushed only its type). */
  responses: Record<Short, number>;
  /** Resources per response of the watched type (min..max): full set or only what changed. */
  minResources: number;
  maxResources: number;
  versions: Set<string>;
}
let watch: Watch | undefined;
/** When the last response of any type arrived, and how many arrived in all (for `quiet`). */
let lastResponseAt = performance.now();
let responsesTotal = 0;
const streams: GrpcClientStream[] = [];

function ipOf(i: number): string {
  return `10.${100 + ((i >> 16) & 0xff)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

/** Streams the server closed and that were opened again (all proxies). */
let reopened = 0;

function openStream(i: number): void {
  const parser = new ResponseHeadParser(named ? new Set([TYPE_URL.cluster, TYPE_URL.listener]) : new Set());
  const stream: GrpcClientStream = clients[i % clients.length]!.openStream(ADS_PATH, {
    onMessagePart: (part, last) => {
      const head = parser.push(part, last);
      if (head) onResponse(head);
    },
    onStatus: (st) => {
      if (exiting || streams[i] !== stream) return;
      if (st.code !== 0) process.stderr.write(`stream ${i}: ${st.code} ${st.message}\n`);
      reopened++;
      setTimeout(() => !exiting && openStream(i), 100);
    },
  });
  streams[i] = stream;
  const ip = ipOf(i);
  const pod = `sim-${i}`;
  // What istio-agent puts in a sidecar's node metadata (pilot/pkg/model NodeMetadata).
  const metadata = {
    NAMESPACE: opts.namespace,
    NAME: pod,
    LABELS: { app: 'sim', version: 'v1', 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'sim', 'service.istio.io/canonical-revision': 'v1' },
    ISTIO_VERSION: '1.29.0',
    CLUSTER_ID: 'Kubernetes',
    MESH_ID: 'cluster.local',
    INTERCEPTION_MODE: 'REDIRECT',
    WORKLOAD_NAME: 'sim',
    SERVICE_ACCOUNT: 'sim',
    INSTANCE_IPS: ip,
    POD_PORTS: JSON.stringify([{ containerPort: 8080, name: 'http', protocol: 'TCP' }]),
    APP_CONTAINERS: 'sim',
    OWNER: `kubernetes://apis/apps/v1/namespaces/${opts.namespace}/deployments/sim`,
    ENVOY_PROMETHEUS_PORT: 15090,
    ENVOY_STATUS_PORT: 15021,
    PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
  };
  const node = {
    id: `sidecar~${ip}~${pod}.${opts.namespace}~${opts.namespace}.svc.cluster.local`,
    cluster: `sim.${opts.namespace}`,
    metadata: jsonToStruct(metadata),
    userAgentName: 'envoy',
    userAgentVersion: '1.37.0',
  };
  /** Named subscriptions (named mode): EDS and RDS names, and whether LDS was asked for. */
  const subs: { eds?: NameSet; rds?: NameSet; lds: boolean } = { lds: false };
  /** The last response of each type (for the version and nonce of a changed subscription). */
  const last = new Map<string, { version: string; nonce: string }>();
  if (named) {
    stream.write(request(TYPE_URL.cluster, undefined, undefined, node));
  } else {
    let first = true;
    for (const typeUrl of Object.values(TYPES)) {
      stream.write(encodeRequest(first ? { node, typeUrl } : { typeUrl }));
      first = false;
    }
  }
  function subscribe(typeUrl: string, names: NameSet): void {
    stream.write(request(typeUrl, names, last.get(typeUrl)));
  }
  function onResponse(r: ResponseHead): void {
    lastResponseAt = performance.now();
    responsesTotal++;
    const short = SHORT.get(r.typeUrl);
    const ack = { version: r.versionInfo, nonce: r.nonce };
    last.set(r.typeUrl, ack);
    if (!named) {
      stream.write(encodeRequest({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce }));
    } else if (r.typeUrl === TYPE_URL.cluster) {
      // Envoy subscribes to the new clusters' endpoints before it ACKs the clusters.
      const eds = derivedNames(r);
      if (subs.eds?.key !== eds.key) {
        subs.eds = eds;
        subscribe(TYPE_URL.endpoint, eds);
      }
      stream.write(request(r.typeUrl, undefined, ack));
      if (eds.names.length === 0 && !subs.lds) {
        subs.lds = true;
        stream.write(request(TYPE_URL.listener, undefined));
      }
    } else if (r.typeUrl === TYPE_URL.listener) {
      const rds = derivedNames(r);
      if (subs.rds?.key !== rds.key) {
        subs.rds = rds;
        subscribe(TYPE_URL.route, rds);
      }
      stream.write(request(r.typeUrl, undefined, ack));
    } else {
      stream.write(request(r.typeUrl, r.typeUrl === TYPE_URL.endpoint ? subs.eds : r.typeUrl === TYPE_URL.route ? subs.rds : undefined, ack));
      // Clusters warmed: now the listeners.
      if (r.typeUrl === TYPE_URL.endpoint && !subs.lds) {
        subs.lds = true;
        stream.write(request(TYPE_URL.listener, undefined));
      }
    }
    if (!short) return;
    bytesReceived[short] += r.bytes;
    const now = performance.now();
    if (!seen[i]!.has(short)) {
      seen[i]!.add(short);
      if (seen[i]!.size === 4 && ++synced === opts.proxies) process.stdout.write(`synced ${JSON.stringify({ bytes: bytesReceived })}\n`);
    }
    if (watch) watch.responses[short]++;
    if (watch && watch.type === short && watch.times[i] === undefined) {
      watch.times[i] = now - watch.t0;
      watch.minResources = Math.min(watch.minResources, r.resources);
      watch.maxResources = Math.max(watch.maxResources, r.resources);
      watch.versions.add(r.versionInfo);
      // Keep counting other types' responses for a second: a push that wrongly included them shows.
      if (++watch.count === opts.proxies) setTimeout(report, 1000);
    }
  }
}

let exiting = false;
for (let i = 0; i < opts.proxies; i++) {
  seen.push(new Set());
  openStream(i);
}

function report(): void {
  if (!watch) return;
  const times = watch.times.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const pct = (p: number): number => (times.length ? times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] : NaN);
  process.stdout.write(
    JSON.stringify({ type: watch.type, proxies: opts.proxies, converged: times.length, p50_ms: pct(50), p99_ms: pct(99), max_ms: times[times.length - 1] ?? NaN,
      responses: watch.responses, resources_per_response: [watch.minResources, watch.maxResources], versions: watch.versions.size, reopened }) + '\n',
  );
  watch = undefined;
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg, arg2] = line.trim().split(/\s+/);
  if (cmd === 'watch' && arg !== undefined && arg in TYPES) {
    watch = {
      type: arg as Short,
      t0: performance.now(),
      times: new Array(opts.proxies),
      count: 0,
      responses: { cds: 0, eds: 0, lds: 0, rds: 0 },
      minResources: Infinity,
      maxResources: 0,
      versions: new Set(),
    };
    const mine = watch;
    process.stdout.write('watching\n');
    setTimeout(() => watch === mine && report(), Number(arg2 ?? 60_000)).unref();
  } else if (cmd === 'quiet') {
    const quietMs = Number(arg ?? 3000);
    const maxMs = Number(arg2 ?? 600_000);
    const t0 = performance.now();
    const before = responsesTotal;
    const poll = setInterval(() => {
      const now = performance.now();
      const quiet = now - lastResponseAt >= quietMs;
      if (!quiet && now - t0 < maxMs) return;
      clearInterval(poll);
      process.stdout.write(`quiet ${JSON.stringify({ quiet, waited_ms: Math.round(now - t0), responses: responsesTotal - before })}\n`);
    }, 100);
  } else if (cmd === 'exit') {
    exiting = true;
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  }
});
