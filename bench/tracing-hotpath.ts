/**
 * `node bench/tracing-hotpath.ts [--n 200000]`: per-request CPU of HCM tracing in mizzen proxy,
 * in-process (no sockets): the tracing filter (sampling decision on the request id, B3
 * extract/inject) and the observer (tags, Zipkin v2 JSON batching and serialization) for a
 * client and a server sidecar, at 0 %, 1 % and 100 % sampling, against the same request without
 * tracing. The exporter's POST finds no collector cluster (there is no network here), so its
 * cost is serialization plus a failed lookup per batch of 100 spans.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { HeaderList } from '../src/data/http1/header-list.ts';
import type { FilterContext } from '../src/data/l7/http-filter.ts';
import { StreamInfo } from '../src/data/l7/stream-info.ts';
import type { ClusterManager } from '../src/data/upstream/cluster-manager.ts';
import { HttpTracing } from '../src/data/telemetry/http-tracing.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' } } });
const N = Number(values.n);
const noClusters = { get: () => undefined } as unknown as ClusterManager;

function tracingConfig(percent: number): Record<string, unknown> {
  return {
    clientSampling: { value: 100 }, randomSampling: { value: percent }, overallSampling: { value: 100 },
    customTags: [
      { tag: 'istio.canonical_revision', literal: { value: 'v1' } }, { tag: 'istio.canonical_service', literal: { value: 'reviews' } },
      { tag: 'istio.mesh_id', literal: { value: 'cluster.local' } }, { tag: 'istio.namespace', literal: { value: 'default' } },
    ],
    provider: { name: 'envoy.tracers.zipkin', typedConfig: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collectorCluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local', collectorEndpoint: '/api/v2/spans', traceId_128bit: true, collectorEndpointVersion: 'HTTP_JSON' } },
  };
}

function ctx(direction: 'INBOUND' | 'OUTBOUND'): FilterContext {
  const info = new StreamInfo();
  info.direction = direction;
  info.protocol = 'HTTP/1.1';
  info.downstreamRemoteAddress = '10.244.0.12';
  return { request: { method: 'GET', path: '/reviews/1', authority: 'reviews:9080', scheme: 'http', headers: new HeaderList() }, info, route: undefined };
}

/** ns of CPU per request (client + server sidecar averaged) for one sampling setting, or none. */
async function run(percent: number | undefined): Promise<number> {
  const tracing = new HttpTracing(() => noClusters, { serviceName: 'reviews.default', ip: '10.244.0.11', nodeId: 'sidecar~10.244.0.11~reviews-v1.default~default.svc.cluster.local', zone: '' });
  const filter = percent === undefined ? undefined : tracing.filter(tracing.compile(tracingConfig(percent), 'bench'));
  const sides = [ctx('OUTBOUND'), ctx('INBOUND')];
  const ids = Array.from({ length: 1024 }, () => randomUUID());
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    for (const c of sides) {
      const info = c.info;
      info.resetForRequest(performance.now());
      info.method = 'GET';
      info.path = '/reviews/1';
      info.authority = 'reviews:9080';
      info.requestId = ids[i & 1023]!;
      c.request.headers = new HeaderList(['x-request-id', info.requestId, 'user-agent', 'bench']);
      filter?.decodeHeaders!(c);
      info.responseCode = 200;
      info.clusterName = 'outbound|9080||reviews.default.svc.cluster.local';
      info.endMs = performance.now();
      tracing.onStreamComplete(info);
    }
    if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r)); // let batches flush
  }
  await tracing.flush();
  const used = process.cpuUsage(start);
  const stats = tracing.exporterStats()[0];
  tracing.close();
  if (stats) process.stderr.write(`  ${percent} %: ${stats.spansSent + stats.spansDropped} spans reported (${stats.reportsFailed} batches serialized, no collector)\n`);
  return ((used.user + used.system) * 1000) / (N * 2);
}

const baseline = await run(undefined);
await run(1); // warm the tracing code path
const rows: [string, number][] = [['no tracing (request setup only)', baseline]];
for (const p of [0, 1, 100]) rows.push([`tracing at ${p} %`, await run(p)]);
const base2 = await run(undefined);
console.log(`${N} requests per setting, client + server sidecar averaged; load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
for (const [name, ns] of rows) {
  const extra = ns - Math.min(baseline, base2);
  console.log(`${name.padEnd(32)} ${ns.toFixed(0).padStart(6)} ns/request  tracing adds ${Math.max(0, extra).toFixed(0).padStart(5)} ns = ${(Math.max(0, extra) / 1e6).toFixed(4)} vCPU per 1,000 rps`);
}
