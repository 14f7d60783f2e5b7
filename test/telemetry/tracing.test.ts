import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { decodeExportRequest } from '../../src/data/telemetry/otlp-messages.ts';
import { address, hcm, route, routeConfig, staticCluster, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';

const OTELCOL = '/var/cache/mizzen/otelcol-0.165.0/otelcol';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ZIPKIN = 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig';
const OTEL = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';

type ZipkinSpan = { traceId: string; id: string; parentId?: string; name: string; kind: string; localEndpoint: { serviceName: string }; tags: Record<string, string> };

/**
 * A stand-in collector on loopback that records what the proxy POSTs (Zipkin v2 JSON, OTLP/HTTP)
 * and answers OTLP gRPC Export: these tests check the proxy's wire output; the real Zipkin and
 * OpenTelemetry Collector are exercised by test/runtime/tracing-backends.test.ts.
 */
class Collector {
  zipkin: ZipkinSpan[] = [];
  otlp: Record<string, unknown>[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url === '/api/v2/spans') this.zipkin.push(...(JSON.parse(body.toString()) as ZipkinSpan[]));
      else if (req.url === '/v1/traces') this.otlp.push(decodeExportRequest(body));
      res.writeHead(202).end();
    });
  });
  private readonly grpc = http2.createServer();
  port = 0;
  grpcPort = 0;

  async start(): Promise<this> {
    this.grpc.on('stream', (stream: http2.ServerHttp2Stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        if (headers[':path'] === '/opentelemetry.proto.collector.trace.v1.TraceService/Export') this.otlp.push(decodeExportRequest(body.subarray(5, 5 + body.readUInt32BE(1))));
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => this.grpc.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.grpcPort = (this.grpc.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await new Promise((r) => this.grpc.close(r));
  }
}

function tracing(percent: number, provider: Record<string, unknown>): Record<string, unknown> {
  return {
    clientSampling: { value: 100 }, randomSampling: { value: percent }, overallSampling: { value: 100 },
    customTags: [{ tag: 'istio.namespace', literal: { value: 'default' } }, { tag: 'user', requestHeader: { name: 'x-user', defaultValue: 'nobody' } }],
    provider,
  };
}

const zipkinProvider = { name: 'envoy.tracers.zipkin', typedConfig: { '@type': ZIPKIN, collectorCluster: 'zipkin', collectorEndpoint: '/api/v2/spans', traceId_128bit: true, sharedSpanContext: { value: false }, collectorEndpointVersion: 'HTTP_JSON', collectorHostname: 'zipkin.istio-system.svc.cluster.local' } };

describe('HCM tracing (client and server spans, as Envoy with Istio\'s config)', () => {
  let h: Harness;
  let app: EchoServer;
  let collector: Collector;
  let routesPushed = false;
  let clustersPushed = '';

  /** out (OUTBOUND, like a client sidecar) → in (INBOUND, like the server sidecar) → app. */
  async function push(percent: number, provider: Record<string, unknown> = zipkinProvider, spawnUpstream = false, extraClusters: Record<string, unknown>[] = [], inbound: { filters?: Record<string, unknown>[]; customTags?: Record<string, unknown>[] } = {}): Promise<void> {
    const t: Record<string, unknown> = { ...tracing(percent, provider), ...(spawnUpstream ? { spawnUpstreamSpan: { value: true } } : {}) };
    const tIn = inbound.customTags ? { ...t, customTags: [...(t.customTags as unknown[]), ...inbound.customTags] } : t;
    const listeners = [
      { name: 'out', address: address('0.0.0.0', 8080), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [hcm('out', { tracing: t })] }] },
      { name: 'in', address: address('0.0.0.0', 8081), trafficDirection: 'INBOUND', filterChains: [{ filters: [hcm('in', { tracing: tIn }, inbound.filters)] }] },
    ];
    const routes = [
      routeConfig('out', [vhost('v', ['*'], [route({ prefix: '/' }, { cluster: 'hop' }, { decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' } })])]),
      routeConfig('in', [vhost('v', ['*'], [route({ prefix: '/' }, { cluster: 'app' }, { decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' } })])]),
    ];
    await h.push(routesPushed ? { listeners } : { listeners, routes });
    routesPushed = true;
    const clusters = [
        staticCluster('app', [['127.0.0.1', app.port]]),
        staticCluster('hop', [['127.0.0.1', h.port('in')]]),
        staticCluster('zipkin', [['127.0.0.1', collector.port]]),
        staticCluster('otel-grpc', [['127.0.0.1', collector.grpcPort]], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } }),
      ...extraClusters,
    ];
    if (JSON.stringify(clusters) !== clustersPushed) await h.push({ clusters });
    clustersPushed = JSON.stringify(clusters);
  }

  before(async () => {
    collector = await new Collector().start();
    app = await new EchoServer('app').start();
    h = await startHarness();
  });

  after(async () => {
    await h.close();
    await app.stop();
    await collector.stop();
  });

  it('reports a CLIENT span and its SERVER child with B3 propagated, Istio-named operation and Envoy\'s tags', async () => {
    await push(100);
    const res = await request(h.port('out'), { path: '/reviews/0', headers: { host: 'reviews:9080', 'x-user': 'jason' } });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 2, 'two spans at the collector');
    const client = collector.zipkin.find((s) => s.kind === 'CLIENT')!;
    const server = collector.zipkin.find((s) => s.kind === 'SERVER')!;
    assert.equal(client.traceId.length, 32, '128-bit trace ids');
    assert.equal(server.traceId, client.traceId);
    assert.equal(server.parentId, client.id, 'the server span is the child of the client span');
    assert.equal(client.parentId, undefined, 'a request without context starts the trace');
    assert.equal(client.name, 'reviews.default.svc.cluster.local:9080/*');
    assert.equal(client.localEndpoint.serviceName, 'test.default');
    // what reached the app: the server span's context and the sampled flag
    assert.equal(seen.headers['x-b3-traceid'], client.traceId);
    assert.equal(seen.headers['x-b3-spanid'], server.id);
    assert.equal(seen.headers['x-b3-parentspanid'], client.id);
    assert.equal(seen.headers['x-b3-sampled'], '1');
    assert.equal(seen.headers['x-request-id']![14], '9', 'trace reason "sampled" packed into the request id');
    for (const s of [client, server]) {
      assert.equal(s.tags['http.method'], 'GET');
      assert.equal(s.tags['http.status_code'], '200');
      assert.equal(s.tags['http.url'], 'http://reviews:9080/reviews/0');
      assert.equal(s.tags['guid:x-request-id'], seen.headers['x-request-id']);
      assert.equal(s.tags['istio.namespace'], 'default');
      assert.equal(s.tags.user, 'jason');
      assert.equal(s.tags.component, 'proxy');
      assert.equal(s.tags.response_flags, '-');
      assert.match(s.tags.node_id!, /^sidecar~10\.244\.0\.9~test-pod\.default~/);
      assert.equal(s.tags['peer.address'], '127.0.0.1');
    }
    assert.equal(client.tags.upstream_cluster, 'hop');
    assert.equal(server.tags.upstream_cluster, 'app');
  });

  it('continues an incoming B3 context and honours its sampling flag over the random decision', async () => {
    collector.zipkin = [];
    const traceId = '463ac35c9f6413ad48485a3953bb6124';
    const res = await request(h.port('out'), { path: '/p', headers: { host: 'reviews:9080', 'x-b3-traceid': traceId, 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1' } });
    assert.equal(res.status, 200);
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 2, 'spans');
    const client = collector.zipkin.find((s) => s.kind === 'CLIENT')!;
    assert.equal(client.traceId, traceId);
    assert.equal(client.parentId, 'a2fb4a1d1a96d312');
    collector.zipkin = [];
    const off = await request(h.port('out'), { path: '/p', headers: { host: 'reviews:9080', 'x-b3-traceid': traceId, 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '0' } });
    assert.equal((JSON.parse(off.body) as { headers: Record<string, string> }).headers['x-b3-sampled'], '0');
    await h.proxy.telemetry.tracing.flush();
    assert.equal(collector.zipkin.length, 0, 'x-b3-sampled: 0 is obeyed at every hop');
  });

  it('at 0 % reports nothing but still propagates an unsampled context', async () => {
    await push(0);
    await h.proxy.telemetry.tracing.flush();
    collector.zipkin = [];
    const res = await request(h.port('out'), { path: '/p', headers: { host: 'reviews:9080' } });
    const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    assert.equal(seen['x-b3-sampled'], '0');
    await h.proxy.telemetry.tracing.flush();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(collector.zipkin.length, 0);
    // x-envoy-force-trace samples regardless (Envoy's forced reason)
    await request(h.port('out'), { path: '/p', headers: { host: 'reviews:9080', 'x-envoy-force-trace': 'true' } });
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 2, 'forced spans');
  });

  it('samples by the request id: the same id gets the same decision at every hop', async () => {
    await push(50);
    const decisions = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const id = `${(i * 0x05f5e1).toString(16).padStart(8, '0')}-1111-4111-8111-111111111111`;
      const r = await request(h.port('out'), { path: '/p', headers: { host: 'reviews:9080', 'x-request-id': id } });
      const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      const expected = Number.parseInt(id.slice(0, 8), 16) % 10000 < 5000 ? '1' : '0';
      assert.equal(seen['x-b3-sampled'], expected, `request id ${id}`);
      decisions.set(id, seen['x-b3-sampled']!);
    }
    assert.ok(new Set(decisions.values()).size === 2, 'both decisions occur at 50 %');
  });

  it('spawns an upstream CLIENT span under the SERVER span when spawn_upstream_span is set (gateways)', async () => {
    await push(100, zipkinProvider, true);
    await h.proxy.telemetry.tracing.flush();
    collector.zipkin = [];
    await request(h.port('out'), { path: '/g', headers: { host: 'reviews:9080' } });
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 3, 'gateway-style spans');
    const roots = collector.zipkin.filter((s) => !s.parentId);
    assert.equal(roots.length, 1);
    assert.equal(roots[0]!.kind, 'SERVER');
    const up = collector.zipkin.find((s) => s.parentId === roots[0]!.id)!;
    assert.equal(up.kind, 'CLIENT');
  });

  it('tags spans with the RBAC filter\'s dry-run (shadow) result through metadata custom tags, as Istio\'s policy tags', async () => {
    const md = (tag: string, key: string): Record<string, unknown> => ({ tag, metadata: { kind: { request: {} }, metadataKey: { key: 'envoy.filters.http.rbac', path: [{ key }] } } });
    const policyTags = (['allow', 'deny'] as const).flatMap((a) => [
      md(`istio.authorization.dry_run.${a}_policy.name`, `istio_dry_run_${a}_shadow_effective_policy_id`),
      md(`istio.authorization.dry_run.${a}_policy.result`, `istio_dry_run_${a}_shadow_engine_result`),
    ]);
    // an `istio.io/dry-run` DENY policy as istiod generates it: shadow rules only, nothing enforced
    const rbac = {
      name: 'envoy.filters.http.rbac',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        shadowRules: { action: 'DENY', policies: { 'ns[default]-policy[deny-get]-rule[0]': { permissions: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }], principals: [{ any: true }] } } },
        shadowRulesStatPrefix: 'istio_dry_run_deny_',
      },
    };
    await push(100, zipkinProvider, false, [], { filters: [rbac], customTags: policyTags });
    await h.proxy.telemetry.tracing.flush();
    collector.zipkin = [];
    // straight to the inbound listener: one SERVER span per request
    const get = await request(h.port('in'), { path: '/dry', headers: { host: 'reviews:9080' } });
    assert.equal(get.status, 200, 'a dry-run DENY does not deny');
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 1, 'the GET span');
    const denied = collector.zipkin[0]!.tags;
    assert.equal(denied['istio.authorization.dry_run.deny_policy.name'], 'ns[default]-policy[deny-get]-rule[0]');
    assert.equal(denied['istio.authorization.dry_run.deny_policy.result'], 'denied');
    assert.equal(denied['istio.authorization.dry_run.allow_policy.name'], undefined, 'no ALLOW dry-run policy: no tag');
    collector.zipkin = [];
    const post = await request(h.port('in'), { method: 'POST', path: '/dry', headers: { host: 'reviews:9080' }, body: 'x' });
    assert.equal(post.status, 200);
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.zipkin.length >= 1, 'the POST span');
    const allowed = collector.zipkin[0]!.tags;
    assert.equal(allowed['istio.authorization.dry_run.deny_policy.result'], 'allowed');
    assert.equal(allowed['istio.authorization.dry_run.deny_policy.name'], undefined, 'no policy matched');
  });

  it('exports OTLP over HTTP and gRPC with W3C traceparent propagation', async () => {
    const http = { name: 'envoy.tracers.opentelemetry', typedConfig: { '@type': OTEL, serviceName: 'reviews.default', httpService: { httpUri: { uri: 'otel.istio-system.svc.cluster.local/v1/traces', cluster: 'zipkin', timeout: { seconds: 5 } } } } };
    await push(100, http);
    collector.otlp = [];
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await request(h.port('out'), { path: '/o', headers: { host: 'reviews:9080', traceparent: parent, tracestate: 'vendor=x' } });
    const seen = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    assert.match(seen.traceparent!, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.equal(seen.tracestate, 'vendor=x');
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.otlp.length >= 1, 'OTLP/HTTP export');
    const spans = collector.otlp.flatMap((r) => (r.resourceSpans as { scopeSpans: { spans: { traceId: string; kind: number; parentSpanId: string }[] }[]; resource: { attributes: { key: string; value: { stringValue: string } }[] } }[]).flatMap((rs) => {
      assert.deepEqual(rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue, 'reviews.default');
      return rs.scopeSpans.flatMap((s) => s.spans);
    }));
    assert.ok(spans.some((s) => s.kind === 3 && Buffer.from(s.traceId, 'base64').toString('hex') === '0af7651916cd43dd8448eb211c80319c' && Buffer.from(s.parentSpanId, 'base64').toString('hex') === 'b7ad6b7169203331'));
    const grpc = { name: 'envoy.tracers.opentelemetry', typedConfig: { '@type': OTEL, serviceName: 'reviews.default', grpcService: { envoyGrpc: { clusterName: 'otel-grpc', authority: 'otel.istio-system.svc.cluster.local' } } } };
    await push(100, grpc);
    collector.otlp = [];
    await request(h.port('out'), { path: '/o', headers: { host: 'reviews:9080' } });
    await h.proxy.telemetry.tracing.flush();
    await waitUntil(() => collector.otlp.length >= 1, 'OTLP/gRPC export');
  });

  it('a real OpenTelemetry Collector accepts the OTLP/gRPC and OTLP/HTTP exports', { skip: !existsSync(OTELCOL) && `no collector at ${OTELCOL} (scripts/tracing-backends.sh builds it)` }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-otelcol-'));
    const [g, p] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'c.yaml'), `receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 127.0.0.1:${g}}\n      http: {endpoint: 127.0.0.1:${p}}\nexporters:\n  debug: {verbosity: detailed}\nservice:\n  telemetry: {metrics: {level: none}}\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n`);
    const col = spawn(OTELCOL, [`--config=file:${join(dir, 'c.yaml')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    col.stdout.on('data', (d: Buffer) => (out += d.toString()));
    col.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitUntil(() => out.includes('Everything is ready'), 'collector ready', 30_000);
      await push(100);
      const grpc = { name: 'envoy.tracers.opentelemetry', typedConfig: { '@type': OTEL, serviceName: 'reviews.default', grpcService: { envoyGrpc: { clusterName: 'real-grpc', authority: 'otel' } } } };
      const httpP = { name: 'envoy.tracers.opentelemetry', typedConfig: { '@type': OTEL, serviceName: 'ratings.default', httpService: { httpUri: { uri: 'otel/v1/traces', cluster: 'real-http', timeout: { seconds: 5 } } } } };
      for (const [provider, name, port, h2] of [[grpc, 'real-grpc', g, true], [httpP, 'real-http', p, false]] as const) {
        const h2opts = h2 ? { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } } : {};
        await push(100, provider, false, [staticCluster(name, [['127.0.0.1', port]], h2opts)]);
        await request(h.port('out'), { path: '/real', headers: { host: 'reviews:9080' } });
        await h.proxy.telemetry.tracing.flush();
        const service = (provider.typedConfig as { serviceName: string }).serviceName;
        // the client span of `out` (a fresh downstream connection each time; `in` is reached over a
        // kept-alive upstream connection that keeps the listener config it was accepted with)
        await waitUntil(() => out.includes(`service.name: Str(${service})`) && /Kind\s+: Client/.test(out), `collector printed the ${name} spans`, 15_000);
        out = '';
      }
    } finally {
      col.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('NACKs tracers it does not implement', async () => {
    const before = h.ads.acks.length;
    const bad = { name: 'envoy.tracers.datadog', typedConfig: { '@type': 'type.googleapis.com/envoy.config.trace.v3.DatadogConfig', collectorCluster: 'x', serviceName: 'y' } };
    h.ads.set(TYPE_URL.listener, [{ name: 'bad', address: address('0.0.0.0', 8082), filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { ...(hcm('r').typedConfig as object), '@type': HCM, tracing: tracing(1, bad) } }] }] }]);
    await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.listener)?.error !== undefined, 'listener NACK');
    assert.match(h.ads.last(TYPE_URL.listener)!.error!, /tracing\.provider\.typedConfig.*not supported/);
    const routeMd = { tag: 'r', metadata: { kind: { route: {} }, metadataKey: { key: 'istio', path: [{ key: 'x' }] } } };
    h.ads.set(TYPE_URL.listener, [{ name: 'bad', address: address('0.0.0.0', 8082), filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { ...(hcm('r').typedConfig as object), '@type': HCM, tracing: { ...tracing(1, zipkinProvider), customTags: [routeMd] } } }] }] }]);
    await h.ads.waitFor(() => /metadata kind route is not supported/.test(h.ads.last(TYPE_URL.listener)?.error ?? ''), 'listener NACK for route metadata tags');
  });
});
