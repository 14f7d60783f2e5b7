/**
 * A load simulator in its own process, like Istio's pilot-load: opens N SotW ADS streams (spread
 * over several gRPC channels), each as a sidecar with its own node ID, subscribes wildcard to CDS,
 * EDS, LDS and RDS, and ACKs every response as Envoy would (without decoding the resources).
 *
 * argv: JSON {address, proxies, channels, namespace}
 * stdin: `watch TYPE` (TYPE: cds|eds|lds|rds) starts a convergence measurement from now;
 * stdout: `synced {"bytes": {TYPE: N}}` once every stream has had a response of every type (bytes:
 * response bytes received so far per type); then per watch a JSON line
 * {type, proxies, converged, p50_ms, p99_ms, max_ms, responses, resources_per_response, versions} one
 * second after every proxy has ACKed a new response of that type (or after 60 s, with converged <
 * proxies); `responses` counts the responses of every type received meanwhile.
 */
import * as grpc from '@grpc/grpc-js';
import { createInterface } from 'node:readline';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';

interface Options {
  address: string;
  proxies: number;
  channels: number;
  namespace: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const root = loadEnvoyRoot();
const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const Resp = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const TYPES = { cds: TYPE_URL.cluster, eds: TYPE_URL.endpoint, lds: TYPE_URL.listener, rds: TYPE_URL.route } as const;
type Short = keyof typeof TYPES;
const SHORT = new Map<string, Short>(Object.entries(TYPES).map(([k, v]) => [v, k as Short]));

interface RespHead {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: number;
}

const Client = grpc.makeGenericClientConstructor(
  {
    StreamAggregatedResources: {
      path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: object) => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      // Only the envelope is needed; resources stay encoded.
      responseDeserialize: (b: Buffer): RespHead => {
        const m = Resp.decode(b) as unknown as RespHead;
        const short = SHORT.get(m.typeUrl);
        if (short) bytesReceived[short] += b.length;
        return { versionInfo: m.versionInfo, typeUrl: m.typeUrl, nonce: m.nonce, resources: (m as unknown as { resources?: unknown[] }).resources?.length ?? 0 };
      },
    },
  },
  'AggregatedDiscoveryService',
);

/** Response bytes received per type (all streams): what the initial sync transfers. */
const bytesReceived: Record<Short, number> = { cds: 0, eds: 0, lds: 0, rds: 0 };
// Envoy's HTTP/2 defaults for its xDS connection: 256 MiB stream and connection windows (gRPC's
// 64 KiB default would make every 1.6 MB EDS response wait for ~25 WINDOW_UPDATE round trips).
const ENVOY_WINDOW = 256 * 1024 * 1024;
const clients = Array.from(
  { length: opts.channels },
  () => new Client(opts.address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': ENVOY_WINDOW }),
);
const seen: Set<Short>[] = [];
const lastResponseAt: Map<Short, number>[] = [];
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
const streams: grpc.ClientDuplexStream<object, RespHead>[] = [];

function ipOf(i: number): string {
  return `10.${100 + ((i >> 16) & 0xff)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

for (let i = 0; i < opts.proxies; i++) {
  const client = clients[i % clients.length] as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<object, RespHead> };
  const stream = client.StreamAggregatedResources();
  streams.push(stream);
  seen.push(new Set());
  lastResponseAt.push(new Map());
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
    stream.write(first ? { node, typeUrl } : { typeUrl });
    first = false;
  }
  stream.on('data', (r: RespHead) => {
    const short = SHORT.get(r.typeUrl);
    stream.write({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
    if (!short) return;
    const now = performance.now();
    if (!seen[i].has(short)) {
      seen[i].add(short);
      if (seen[i].size === 4 && ++synced === opts.proxies) process.stdout.write(`synced ${JSON.stringify({ bytes: bytesReceived })}\n`);
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
  });
  stream.on('error', (err: Error) => process.stderr.write(`stream ${i}: ${err.message}\n`));
}

function report(): void {
  if (!watch) return;
  const times = watch.times.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const pct = (p: number): number => (times.length ? times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] : NaN);
  process.stdout.write(
    JSON.stringify({ type: watch.type, proxies: opts.proxies, converged: times.length, p50_ms: pct(50), p99_ms: pct(99), max_ms: times[times.length - 1] ?? NaN,
      responses: watch.responses, resources_per_response: [watch.minResources, watch.maxResources], versions: watch.versions.size }) + '\n',
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
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  }
});
