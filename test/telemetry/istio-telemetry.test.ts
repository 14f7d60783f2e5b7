import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { messageNameOf } from '../../src/api/xds/type-urls.ts';
import { httpFilters, metadataExchangeFilter, statsFilter } from '../../src/control/generate/http-connection-manager.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import * as net from 'node:net';
import { address, DOWNSTREAM_TLS, FAULT, hcm, route, routeConfig, staticCluster, tcpProxy, UPSTREAM_TLS, vhost } from '../proxy/support/envoy-builders.ts';
import { EchoServer, type EchoReply } from '../proxy/support/echo-server.ts';
import { request } from '../proxy/support/http-client.ts';
import { codec, startHarness, waitUntil, type Harness } from '../proxy/support/proxy-harness.ts';
import { issue, makeCa } from '../proxy/support/test-pki.ts';

type Obj = Record<string, unknown>;

const REVIEWS = 'reviews.default.svc.cluster.local';
const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });

/** A generator-written (proto3 JSON) filter as discovery's encoder turns it into protobufjs objects. */
function asProto(filter: Obj): Obj {
  const { '@type': type, ...body } = filter.typedConfig as Obj;
  return { name: filter.name, typedConfig: { '@type': type, ...protoJsonToObject(codec().type(messageNameOf(String(type))), body).object } };
}

function istioFilters(inbound: boolean): Obj[] {
  return [asProto(metadataExchangeFilter(inbound)), asProto(statsFilter(inbound))];
}

/** Prometheus text → samples of one metric as label maps with values. */
function samples(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    out.push({ labels, value: Number(line.slice(close + 2)) });
  }
  return out;
}

function scrape(port: number, path = '/stats/prometheus'): Promise<string> {
  return request(port, { path }).then((r) => r.body);
}

describe('Istio telemetry between two sidecars (metadata exchange, metrics, access log, 15020)', () => {
  let server: Harness;
  let client: Harness;
  let app: EchoServer;
  let appMetrics: http.Server;
  const serverLog: string[] = [];
  const clientLog: string[] = [];

  before(async () => {
    const ca = await makeCa('mesh-root');
    const reviewsCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/reviews');
    const productCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/productpage');
    const secrets = (c: { certPem: string; keyPem: string }) => {
      const s = new MapSecretProvider();
      s.set('default', { kind: 'certificate', certChain: c.certPem, privateKey: c.keyPem });
      s.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
      return s;
    };
    app = await new EchoServer('reviews').start();
    appMetrics = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('# TYPE app_custom_metric gauge\napp_custom_metric 42\n');
    });
    await new Promise<void>((r) => appMetrics.listen(0, '127.0.0.1', r));
    const sink = (lines: string[]) => {
      const p = new PassThrough();
      p.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l !== '')));
      return p;
    };
    server = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.11', podName: 'reviews-v1-7d9f', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' }, meta: { WORKLOAD_NAME: 'reviews-v1' } },
      secrets: secrets(reviewsCert),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
      mergedMetricsPort: 0,
      appMetrics: { port: (appMetrics.address() as AddressInfo).port, path: '/metrics' },
      accessLog: { path: '/dev/stdout', sink: sink(serverLog) },
    });
    const inboundCluster = staticCluster('inbound|9080||', [['127.0.0.1', app.port]], {
      metadata: { filterMetadata: { istio: { fields: { services: { listValue: { values: [{ structValue: { fields: { host: { stringValue: REVIEWS }, name: { stringValue: 'reviews' }, namespace: { stringValue: 'default' } } } }] } } } } } },
    });
    await server.push({
      clusters: [inboundCluster],
      listeners: [{
        name: 'virtualInbound', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND',
        filterChains: [{
          transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } },
          filters: [hcm('inbound|9080||', {}, istioFilters(true))],
        }],
      }, { name: 'tcpInbound', address: address('0.0.0.0', 15016), trafficDirection: 'INBOUND', filterChains: [{ filters: [tcpProxy('inbound|9080||')] }] }],
      routes: [routeConfig('inbound|9080||', [vhost('inbound|http|9080', ['*'], [route({ prefix: '/' }, { cluster: 'inbound|9080||' })])])],
    });
    client = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.12', podName: 'productpage-v1-5c6b', namespace: 'default', serviceAccount: 'productpage', labels: { app: 'productpage', version: 'v1' }, meta: { WORKLOAD_NAME: 'productpage-v1' } },
      secrets: secrets(productCert),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
      accessLog: { path: '/dev/stdout', encoding: 'JSON', sink: sink(clientLog) },
    });
    const outbound = `outbound|9080||${REVIEWS}`;
    await client.push({
      clusters: [staticCluster(outbound, [['127.0.0.1', server.port('virtualInbound')]], {
        transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: `outbound_.9080_._.${REVIEWS}`, commonTlsContext: { tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/default/sa/reviews' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } },
      })],
      // the generator's filters in Istio's order: fault before istio.stats
      listeners: [{ name: 'out', address: address('0.0.0.0', 9080), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [hcm('9080', { httpFilters: httpFilters({ inbound: false }).map((f) => asProto(f as Obj)) })] }] }],
      routes: [routeConfig('9080', [vhost(`${REVIEWS}:9080`, ['*'], [
        route({ prefix: '/fault' }, { cluster: outbound }, { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { httpStatus: 500, percentage: { numerator: 100 } } } } }),
        route({ prefix: '/' }, { cluster: outbound }),
      ], { })])],
    });
  });

  after(async () => {
    await client.close();
    await server.close();
    await app.stop();
    appMetrics.closeAllConnections();
    await new Promise<void>((r) => appMetrics.close(() => r()));
  });

  it('exchanges peer metadata without leaking the headers to the app or the client, and keeps trace headers', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r = await request(client.port('out'), { path: '/reviews/1', host: '127.0.0.1', headers: { host: 'reviews:9080', traceparent, 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7', 'user-agent': 'telemetry-test' } });
    assert.equal(r.status, 200);
    const seen = r.json<EchoReply>().headers;
    assert.equal(seen['x-envoy-peer-metadata'], undefined);
    assert.equal(seen['x-envoy-peer-metadata-id'], undefined);
    assert.equal(seen.traceparent, traceparent);
    assert.equal(seen['x-b3-traceid'], '80f198ee56343ba864fe8b2a57d3eff7');
    assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(r.headers['x-envoy-peer-metadata'], undefined);
    assert.equal(r.headers['x-envoy-peer-metadata-id'], undefined);
  });

  it('reports istio_requests_total with Istio labels on both reporters (mutual_tls on the destination)', async () => {
    await request(client.port('out'), { path: '/reviews/2', headers: { host: 'reviews:9080' } });
    const dest = samples(await scrape(server.proxy.prometheusPort!), 'istio_requests_total').find((s) => s.labels.reporter === 'destination');
    assert.ok(dest, 'destination series');
    assert.deepEqual({ ...dest.labels }, {
      reporter: 'destination',
      source_workload: 'productpage-v1', source_workload_namespace: 'default', source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
      source_app: 'productpage', source_version: 'v1', source_canonical_service: 'productpage', source_canonical_revision: 'v1', source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v1', destination_workload_namespace: 'default', destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
      destination_app: 'reviews', destination_version: 'v1', destination_service: REVIEWS, destination_service_name: 'reviews', destination_service_namespace: 'default',
      destination_canonical_service: 'reviews', destination_canonical_revision: 'v1', destination_cluster: 'Kubernetes',
      request_protocol: 'http', response_code: '200', grpc_response_status: '', response_flags: '-', connection_security_policy: 'mutual_tls',
    });
    assert.ok(dest.value >= 2);
    const src = samples(await scrape(client.proxy.prometheusPort!), 'istio_requests_total').find((s) => s.labels.reporter === 'source');
    assert.ok(src, 'source series');
    assert.equal(src.labels.source_workload, 'productpage-v1');
    assert.equal(src.labels.destination_workload, 'reviews-v1');
    assert.equal(src.labels.destination_service, REVIEWS);
    assert.equal(src.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.equal(src.labels.connection_security_policy, 'unknown');
    assert.equal(src.labels.response_code, '200');
    const text = await scrape(server.proxy.prometheusPort!);
    assert.match(text, /istio_request_duration_milliseconds_bucket\{[^}]*reporter="destination"[^}]*le="0.5"\}/);
    assert.match(text, /istio_request_bytes_count\{/);
    assert.match(text, /istio_response_bytes_sum\{/);
  });

  it("counts a fault abort (the fault filter before istio.stats, as Istio orders them) with the route's service, as Envoy's route cache gives it", async () => {
    const r = await request(client.port('out'), { path: '/fault', headers: { host: 'reviews:9080' } });
    assert.equal(r.status, 500);
    const aborted = samples(await scrape(client.proxy.prometheusPort!), 'istio_requests_total').find((s) => s.labels.response_flags === 'FI');
    assert.ok(aborted, 'a series for the aborted request');
    assert.equal(aborted.labels.response_code, '500');
    assert.equal(aborted.labels.destination_service, REVIEWS);
    assert.equal(aborted.labels.destination_service_name, 'reviews');
    assert.equal(aborted.labels.destination_service_namespace, 'default');
    assert.equal(aborted.labels.destination_workload, 'unknown');
  });

  it('reports TCP metrics for tcp_proxy connections (opened while open, closed at the end)', async () => {
    let text = '';
    const find = (m: string) => samples(text, m).find((s) => s.labels.reporter === 'destination' && s.labels.request_protocol === 'tcp');
    const sock = net.connect(server.port('tcpInbound'), '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', () => resolve()).once('error', reject));
    const openDeadline = Date.now() + 5000;
    do text = await scrape(server.proxy.prometheusPort!); while (!find('istio_tcp_connections_opened_total') && Date.now() < openDeadline);
    assert.ok(find('istio_tcp_connections_opened_total'), 'opened is counted while the connection is open');
    assert.equal(find('istio_tcp_connections_closed_total')?.value ?? 0, 0);
    await new Promise<void>((resolve, reject) => {
      sock.on('data', () => undefined);
      sock.on('close', () => resolve());
      sock.on('error', reject);
      sock.write('GET /tcp HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n');
    });
    const deadline = Date.now() + 5000;
    do text = await scrape(server.proxy.prometheusPort!); while (!find('istio_tcp_connections_closed_total') && Date.now() < deadline);
    const closed = find('istio_tcp_connections_closed_total');
    assert.ok(closed && closed.value >= 1, 'closed connection counted');
    assert.equal(closed.labels.connection_security_policy, 'none');
    assert.equal(closed.labels.destination_service, REVIEWS);
    assert.equal(closed.labels.response_code, undefined, 'TCP metrics carry no response_code');
    assert.ok(find('istio_tcp_sent_bytes_total')!.value > 0);
    assert.ok(find('istio_tcp_received_bytes_total')!.value > 0);
    assert.ok(find('istio_tcp_connections_opened_total')!.value >= 1);
  });

  it('serves Istio metrics merged with the application metrics on 15020', async () => {
    const text = await scrape(server.proxy.mergedMetricsPort!);
    assert.match(text, /^istio_requests_total\{reporter="destination"/m);
    assert.match(text, /^envoy_cluster_upstream_rq_total\{/m);
    assert.match(text, /^app_custom_metric 42$/m);
  });

  it('writes one access log line per request in Istio formats (text on the server, JSON on the client)', async () => {
    const before = serverLog.length;
    const r = await request(client.port('out'), { path: '/reviews/3?x=1', headers: { host: 'reviews:9080', 'user-agent': 'log-test' } });
    const id = String(r.json<EchoReply>().headers['x-request-id']);
    await waitUntil(() => serverLog.length > before && clientLog.some((l) => l.includes(id)), 'access log lines');
    const line = serverLog.find((l) => l.includes(id))!;
    const re = new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /reviews/3\\?x=1 HTTP/1\\.1" 200 - via_upstream - "-" 0 \\d+ \\d+ \\d+ "[^"]*" "log-test" "${id}" "reviews:9080" "127\\.0\\.0\\.1:${app.port}" inbound\\|9080\\|\\| - 127\\.0\\.0\\.1:\\d+ 127\\.0\\.0\\.1:\\d+ outbound_\\.9080_\\._\\.${REVIEWS.replace(/\./g, '\\.')} \\S+$`);
    assert.match(line, re);
    const json = JSON.parse(clientLog.find((l) => l.includes(id))!) as Record<string, unknown>;
    assert.equal(json.method, 'GET');
    assert.equal(json.path, '/reviews/3?x=1');
    assert.equal(json.response_code, 200);
    assert.equal(json.request_id, id);
    assert.equal(json.upstream_cluster, `outbound|9080||${REVIEWS}`);
    assert.equal(json.response_flags, null);
  });
});
