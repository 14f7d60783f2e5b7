import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { MX_MAGIC, TcpMetadataExchange } from '../../src/data/telemetry/tcp-metadata-exchange.ts';
import { exchangedMetadata } from '../../src/data/telemetry/peer-metadata.ts';
import { address, DOWNSTREAM_TLS, staticCluster, tcpProxy, UPSTREAM_TLS } from '../proxy/support/envoy-builders.ts';
import { request } from '../proxy/support/http-client.ts';
import { startHarness, type Harness } from '../proxy/support/proxy-harness.ts';
import { issue, makeCa, type TestCa } from '../proxy/support/test-pki.ts';

const REVIEWS = 'reviews.default.svc.cluster.local';
const ISTIO_ALPN = ['istio-peer-exchange', 'istio'];
const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
/** istio.metadata_exchange as discovery sends it (TypedStruct, protobufjs object form). */
const MX_FILTER = {
  name: 'istio.metadata_exchange',
  typedConfig: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', typeUrl: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange', value: { fields: { protocol: { stringValue: 'istio-peer-exchange' } } } },
};

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

const scrape = (port: number): Promise<string> => request(port, { path: '/stats/prometheus' }).then((r) => r.body);

/** A TCP app that records what each connection sent up to a newline and answers `pong:` + those bytes, then closes. */
class TcpApp {
  readonly received: Buffer[] = [];
  private readonly server = net.createServer((s) => {
    let all = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      all = Buffer.concat([all, d]);
      if (all.includes(0x0a)) {
        this.received.push(all);
        s.end(Buffer.concat([Buffer.from('pong:'), all]));
      }
    });
    s.on('error', () => undefined);
  });
  port = 0;
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Sends `payload` (ending in a newline), returns everything the other side sent until it closed. */
function exchange(sock: net.Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks)));
    sock.write(payload);
  });
}

describe('TCP metadata exchange (ALPN istio-peer-exchange) between two sidecars', () => {
  let ca: TestCa;
  let server: Harness;
  let client: Harness;
  let app: TcpApp;
  let productCert: { certPem: string; keyPem: string };

  before(async () => {
    ca = await makeCa('mesh-root');
    const reviewsCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/reviews');
    productCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/productpage');
    const secrets = (c: { certPem: string; keyPem: string }) => {
      const s = new MapSecretProvider();
      s.set('default', { kind: 'certificate', certChain: c.certPem, privateKey: c.keyPem });
      s.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
      return s;
    };
    app = await new TcpApp().start();
    server = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.11', podName: 'reviews-v2-7d9f', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v2' }, meta: { WORKLOAD_NAME: 'reviews-v2' } },
      secrets: secrets(reviewsCert),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
    });
    const inboundCluster = staticCluster('inbound|9080||', [['127.0.0.1', app.port]], {
      metadata: { filterMetadata: { istio: { fields: { services: { listValue: { values: [{ structValue: { fields: { host: { stringValue: REVIEWS }, name: { stringValue: 'reviews' }, namespace: { stringValue: 'default' } } } }] } } } } } },
    });
    await server.push({
      clusters: [inboundCluster],
      listeners: [{
        name: 'virtualInbound', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND',
        filterChains: [{
          transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { alpnProtocols: ISTIO_ALPN, tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } },
          filters: [MX_FILTER, tcpProxy('inbound|9080||')],
        }],
      }],
    });
    client = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.12', podName: 'productpage-v1-5c6b', namespace: 'default', serviceAccount: 'productpage', labels: { app: 'productpage', version: 'v1' }, meta: { WORKLOAD_NAME: 'productpage-v1' } },
      secrets: secrets(productCert),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
    });
    const outbound = `outbound|9080||${REVIEWS}`;
    await client.push({
      clusters: [staticCluster(outbound, [['127.0.0.1', server.port('virtualInbound')]], {
        filters: [MX_FILTER],
        metadata: { filterMetadata: { istio: { fields: { services: { listValue: { values: [{ structValue: { fields: { host: { stringValue: REVIEWS }, name: { stringValue: 'reviews' }, namespace: { stringValue: 'default' } } } }] } } } } } },
        transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: `outbound_.9080_._.${REVIEWS}`, commonTlsContext: { alpnProtocols: ISTIO_ALPN, tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/default/sa/reviews' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } },
      })],
      listeners: [{ name: 'out', address: address('0.0.0.0', 9080), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [tcpProxy(outbound)] }] }],
    });
  });

  after(async () => {
    await client.close();
    await server.close();
    await app.stop();
  });

  it('frames our metadata as magic, length and an Any holding the Struct, and decodes it back', () => {
    const mx = new TcpMetadataExchange({ WORKLOAD_NAME: 'w1', NAMESPACE: 'ns1', LABELS: { app: 'a1', version: 'v9' }, SECRET: 'not exchanged' }, 'sidecar~1.2.3.4~w1.ns1~ns1.svc.cluster.local', exchangedMetadata);
    assert.equal(mx.frame.readUInt32BE(0), MX_MAGIC);
    assert.equal(mx.frame.readUInt32BE(4), mx.frame.length - 8);
    assert.ok(mx.frame.includes(Buffer.from('type.googleapis.com/google.protobuf.Struct')));
    assert.ok(mx.frame.includes(Buffer.from('x-envoy-peer-metadata-id')));
    assert.ok(!mx.frame.includes(Buffer.from('not exchanged')));
    const peer = mx.decodePeer(mx.frame.subarray(8));
    assert.equal(peer?.workload, 'w1');
    assert.equal(peer?.namespace, 'ns1');
    assert.equal(peer?.app, 'a1');
    assert.equal(peer?.version, 'v9');
  });

  it('reads a header split across chunks and hands back the bytes after it', async () => {
    const mx = new TcpMetadataExchange({ WORKLOAD_NAME: 'w2', NAMESPACE: 'ns2' }, 'id', exchangedMetadata);
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const got = new Promise<{ ok: boolean; workload?: string; rest?: string }>((resolve) => {
      srv.once('connection', (s) => mx.readPeer(s, undefined, (ok, peer, rest) => {
        resolve({ ok, workload: peer?.workload, rest: rest?.toString() });
        s.destroy();
      }));
    });
    const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => c.once('connect', () => r()));
    const bytes = Buffer.concat([mx.frame, Buffer.from('payload')]);
    c.write(bytes.subarray(0, 3));
    await new Promise((r) => setImmediate(r));
    c.write(bytes.subarray(3, 20));
    await new Promise((r) => setImmediate(r));
    c.end(bytes.subarray(20));
    assert.deepEqual(await got, { ok: true, workload: 'w2', rest: 'payload' });
    c.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it('labels istio_tcp_* with the peer workload, app and version on both reporters; the app sees exactly its bytes', async () => {
    const payload = Buffer.from('hello over mtls \x00\x01\x02 with metadata exchange\n');
    const sock = net.connect(client.port('out'), '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', () => resolve()).once('error', reject));
    const reply = await exchange(sock, payload);
    assert.deepEqual(reply, Buffer.concat([Buffer.from('pong:'), payload]));
    assert.deepEqual(app.received.at(-1), payload);
    let destText = '';
    let srcText = '';
    const dest = () => samples(destText, 'istio_tcp_connections_closed_total').find((s) => s.labels.reporter === 'destination' && s.labels.source_workload === 'productpage-v1' && s.value >= 1);
    const src = () => samples(srcText, 'istio_tcp_connections_closed_total').find((s) => s.labels.reporter === 'source' && s.labels.destination_workload === 'reviews-v2' && s.value >= 1);
    // the client may see its close before both sidecars finished theirs (half-close propagates hop by hop)
    const deadline = Date.now() + 10_000;
    while ((!dest() || !src()) && Date.now() < deadline) {
      destText = await scrape(server.proxy.prometheusPort!);
      srcText = await scrape(client.proxy.prometheusPort!);
    }
    const d = dest();
    assert.ok(d, `destination series with the source peer:\n${destText}`);
    assert.equal(d.labels.source_app, 'productpage');
    assert.equal(d.labels.source_version, 'v1');
    assert.equal(d.labels.source_workload_namespace, 'default');
    assert.equal(d.labels.source_principal, 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(d.labels.destination_workload, 'reviews-v2');
    assert.equal(d.labels.connection_security_policy, 'mutual_tls');
    const s = src();
    assert.ok(s, `source series with the destination peer:\n${srcText}`);
    assert.equal(s.labels.source_workload, 'productpage-v1');
    assert.equal(s.labels.destination_app, 'reviews');
    assert.equal(s.labels.destination_version, 'v2');
    assert.equal(s.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.equal(s.labels.destination_service, REVIEWS);
    const sel = (text: string, m: string, pred: (l: Record<string, string>) => boolean) => samples(text, m).find((x) => pred(x.labels));
    const isDest = (l: Record<string, string>) => l.reporter === 'destination' && l.source_workload === 'productpage-v1';
    const isSrc = (l: Record<string, string>) => l.reporter === 'source' && l.destination_workload === 'reviews-v2';
    assert.ok(sel(destText, 'istio_tcp_connections_opened_total', isDest), 'opened carries the peer on the destination');
    assert.ok(sel(srcText, 'istio_tcp_connections_opened_total', isSrc), 'opened carries the peer on the source');
    // payload counts only: the exchange headers are not application bytes
    assert.equal(sel(destText, 'istio_tcp_received_bytes_total', isDest)?.value, payload.length);
    assert.equal(sel(destText, 'istio_tcp_sent_bytes_total', isDest)?.value, payload.length + 5);
    assert.equal(sel(srcText, 'istio_tcp_received_bytes_total', isSrc)?.value, payload.length);
    assert.equal(sel(srcText, 'istio_tcp_sent_bytes_total', isSrc)?.value, payload.length + 5);
  });

  it('serves a plain mTLS client that does not offer the ALPN, with no header added and unknown peer labels', async () => {
    const before = app.received.length;
    const payload = Buffer.from('plain mtls client bytes\n');
    const sock = tls.connect({
      host: '127.0.0.1',
      port: server.port('virtualInbound'),
      cert: productCert.certPem,
      key: productCert.keyPem,
      ca: ca.certPem,
      servername: 'reviews',
      checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => sock.once('secureConnect', () => resolve()).once('error', reject));
    assert.equal(sock.alpnProtocol, false);
    const reply = await exchange(sock, payload);
    assert.deepEqual(reply, Buffer.concat([Buffer.from('pong:'), payload]));
    assert.equal(app.received.length, before + 1);
    assert.deepEqual(app.received.at(-1), payload);
    let text = '';
    const find = () => samples(text, 'istio_tcp_connections_closed_total').find((s) => s.labels.reporter === 'destination' && s.labels.source_workload === 'unknown');
    const deadline = Date.now() + 10_000;
    do text = await scrape(server.proxy.prometheusPort!); while (!find() && Date.now() < deadline);
    const s = find();
    assert.ok(s, 'destination series without a source peer');
    assert.equal(s.labels.source_principal, 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(s.labels.connection_security_policy, 'mutual_tls');
  });
});
