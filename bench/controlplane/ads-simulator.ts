/**
 * A load simulator in its own process, like Istio's pilot-load: opens N SotW ADS streams (spread
 * over several lean gRPC channels, src/lib/grpc-wire), each as a sidecar with its own node ID, subscribes wildcard to CDS,
 * EDS, LDS and RDS, and ACKs every response as Envoy would (reading only the envelope, from the
 * message parts as they arrive: see response-head-parser.ts).
 *
 * argv: JSON {address, proxies, channels, namespace}
 * stdin: `watch TYPE` (TYPE: cds|eds|lds|rds) starts a convergence measurement from now;
 * stdout: `synced {"bytes": {TYPE: N}}` once every stream has had a response of every type (bytes:
 * response bytes received so far per type); then per watch a JSON line
 * {type, proxies, converged, p50_ms, p99_ms, max_ms, responses, resources_per_response, versions} one
 * second after every proxy has ACKed a new response of that type (or after 60 s, with converged <
 * proxies); `responses` counts the responses of every type received meanwhile.
 */
import { createInterface } from 'node:readline';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { GrpcChannel } from '../../src/lib/grpc-wire/grpc-channel.ts';
import type { GrpcClientStream } from '../../src/lib/grpc-wire/grpc-client-stream.ts';
import { ResponseHeadParser, type ResponseHead } from './response-head-parser.ts';

interface Options {
  address: string;
  proxies: number;
  channels: number;
  namespace: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const root = loadEnvoyRoot();
const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const TYPES = { cds: TYPE_URL.cluster, eds: TYPE_URL.endpoint, lds: TYPE_URL.listener, rds: TYPE_URL.route } as const;
type Short = keyof typeof TYPES;
const SHORT = new Map<string, Short>(Object.entries(TYPES).map(([k, v]) => [v, k as Short]));
const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const encodeRequest = (m: object): Uint8Array => Req.encode(Req.fromObject(m)).finish();

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
const streams: GrpcClientStream[] = [];

function ipOf(i: number): string {
  return `10.${100 + ((i >> 16) & 0xff)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

/** Streams the server closed and that were opened again (all proxies). */
let reopened = 0;

function openStream(i: number): void {
  const parser = new ResponseHeadParser();
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
  const node = {
    id: `sidecar~${ipOf(i)}~sim-${i}.${opts.namespace}~${opts.namespace}.svc.cluster.local`,
    cluster: `sim.${opts.namespace}`,
    metadata: {
      fields: {
        NAMESPACE: { stringValue: opts.namespace },
        SERVICE_ACCOUNT: { stringValue: 'sim' },
        LABELS: { structValue: { fields: { app: { stringValue: 'sim' } } } },
      },
    },
  };
  let first = true;
  for (const typeUrl of Object.values(TYPES)) {
    stream.write(encodeRequest(first ? { node, typeUrl } : { typeUrl }));
    first = false;
  }
  function onResponse(r: ResponseHead): void {
    const short = SHORT.get(r.typeUrl);
    stream.write(encodeRequest({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce }));
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
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'watch' && arg in TYPES) {
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
    setTimeout(() => watch === mine && report(), 60_000).unref();
  } else if (cmd === 'exit') {
    exiting = true;
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  }
});
