import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SourceAddressDestinationMap } from '../../src/data/listener/original-destination.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, tcpProxy, UPSTREAM_TLS, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa } from './support/test-pki.ts';

const REVIEWS = 'reviews.default.svc.cluster.local';
const ISTIO_ALPN = ['istio-peer-exchange', 'istio'];
const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
const MX_FILTER = {
  name: 'istio.metadata_exchange',
  typedConfig: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', typeUrl: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange', value: { fields: { protocol: { stringValue: 'istio-peer-exchange' } } } },
};
const INSPECTORS = [
  { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
  { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } },
];

/**
 * TCP apps, all half-open: `reply` reads until the client's FIN, then answers `got:` + all bytes
 * and closes; `banner` sends `hello`, closes its write side first and records what the client
 * sends afterwards; `reset` answers any byte with a TCP RST. Every server-side close is recorded.
 */
class HalfCloseApps {
  readonly bannerReceived: string[] = [];
  readonly serverCloses: string[] = [];
  private readonly servers: net.Server[] = [];
  readonly ports: Record<'reply' | 'banner' | 'reset', number> = { reply: 0, banner: 0, reset: 0 };

  async start(): Promise<this> {
    const track = (kind: string, s: net.Socket): void => {
      s.on('error', () => undefined);
      s.on('close', () => this.serverCloses.push(kind));
    };
    const make = async (kind: 'reply' | 'banner' | 'reset', onConn: (s: net.Socket) => void): Promise<void> => {
      const srv = net.createServer({ allowHalfOpen: true }, (s) => {
        track(kind, s);
        onConn(s);
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      this.ports[kind] = (srv.address() as net.AddressInfo).port;
      this.servers.push(srv);
    };
    await make('reply', (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => s.end(Buffer.concat([Buffer.from('got:'), ...chunks])));
    });
    await make('banner', (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => this.bannerReceived.push(Buffer.concat(chunks).toString()));
      s.end('hello');
    });
    await make('reset', (s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Connects, writes `payload`, half-closes; resolves with all bytes received once the socket closed. */
function writeThenHalfClose(port: number, payload: string, localAddress?: string): Promise<{ reply: string; gotEnd: boolean; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let gotEnd = false;
    let error: string | undefined;
    const c = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      gotEnd = true;
    });
    c.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    c.on('close', () => resolve({ reply: Buffer.concat(chunks).toString(), gotEnd, error }));
  });
}

describe('tcp_proxy half-close', () => {
  let apps: HalfCloseApps;
  let web: EchoServer;
  let h: Harness;
  const od = new SourceAddressDestinationMap();

  before(async () => {
    apps = await new HalfCloseApps().start();
    web = await new EchoServer('web').start();
    od.set('127.0.0.7', { address: '127.0.0.1', port: apps.ports.reply });
    h = await startHarness({ originalDestination: od });
    await h.push({
      clusters: [
        staticCluster('reply', [['127.0.0.1', apps.ports.reply]]),
        staticCluster('banner', [['127.0.0.1', apps.ports.banner]]),
        staticCluster('reset', [['127.0.0.1', apps.ports.reset]]),
        staticCluster('web', [['127.0.0.1', web.port]]),
        { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 1 } },
      ],
      listeners: [
        { name: 'reply', address: address('0.0.0.0', 7001), filterChains: [{ filters: [tcpProxy('reply')] }] },
        { name: 'banner', address: address('0.0.0.0', 7002), filterChains: [{ filters: [tcpProxy('banner')] }] },
        { name: 'reset', address: address('0.0.0.0', 7003), filterChains: [{ filters: [tcpProxy('reset')] }] },
        {
          name: 'virtualOutbound', address: address('0.0.0.0', 15001), useOriginalDst: { value: true },
          filterChains: [{ name: 'PassthroughFilterChain', filters: [tcpProxy('PassthroughCluster')] }],
        },
        {
          name: 'sniffing', address: address('0.0.0.0', 8000), listenerFilters: INSPECTORS,
          filterChains: [
            { filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] }, filters: [hcm('web')] },
            { filterChainMatch: {}, filters: [tcpProxy('reply')] },
          ],
        },
      ],
      routes: [routeConfig('web', [vhost('web', ['*'], [route({ prefix: '/' }, { cluster: 'web' })])])],
    });
  });

  after(async () => {
    await h.close();
    await web.stop();
    await apps.stop();
  });

  it('delivers the full reply to a client that wrote then half-closed, then closes both sides', async () => {
    const before = apps.serverCloses.length;
    const payload = 'x'.repeat(200_000);
    const r = await writeThenHalfClose(h.port('reply'), payload);
    assert.equal(r.error, undefined);
    assert.ok(r.gotEnd, 'client saw the FIN after the reply');
    assert.equal(r.reply, `got:${payload}`);
    await waitUntil(() => apps.serverCloses.length > before, 'upstream connection closed');
  });

  it('propagates the upstream FIN first and still carries the client bytes sent after it', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = net.connect({ port: h.port('banner'), host: '127.0.0.1', allowHalfOpen: true });
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => {
        // the server closed its side first; we are still allowed to send
        c.end('bye after banner');
      });
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(chunks).toString()));
    });
    assert.equal(received, 'hello');
    await waitUntil(() => apps.bannerReceived.length > 0, 'banner app got the client bytes');
    assert.equal(apps.bannerReceived.at(-1), 'bye after banner');
  });

  it('half-closes through the original-destination passthrough and the sniffing listener', async () => {
    const viaPassthrough = await writeThenHalfClose(h.port('virtualOutbound'), 'passthrough', '127.0.0.7');
    assert.equal(viaPassthrough.reply, 'got:passthrough');
    // one byte then FIN: the sniffer ends on the FIN, not on enough bytes
    const viaSniffer = await writeThenHalfClose(h.port('sniffing'), '\x00');
    assert.equal(viaSniffer.reply, 'got:\x00');
    assert.ok(viaSniffer.gotEnd);
  });

  it('tears down the downstream when the upstream resets', async () => {
    const r = await writeThenHalfClose(h.port('reset'), 'boom');
    assert.equal(r.reply, '');
  });

  it('tears down the upstream when the downstream resets', async () => {
    const before = apps.serverCloses.filter((k) => k === 'banner').length;
    await new Promise<void>((resolve) => {
      const c = net.connect({ port: h.port('banner'), host: '127.0.0.1', allowHalfOpen: true });
      c.on('error', () => undefined);
      c.once('data', () => {
        c.resetAndDestroy();
        resolve();
      });
    });
    await waitUntil(() => apps.serverCloses.filter((k) => k === 'banner').length > before, 'upstream closed after the client reset');
  });

  it('still answers a half-closed HTTP/1.1 client before closing (node:http semantics)', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = net.connect({ port: h.port('sniffing'), host: '127.0.0.1', allowHalfOpen: true }, () => c.end('GET /half HTTP/1.1\r\nhost: web\r\n\r\n'));
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(chunks).toString()));
    });
    assert.match(res, /^HTTP\/1\.1 200 /);
    assert.ok(res.includes('/half'), res);
    // and keep-alive clients are unaffected
    const ok = await request(h.port('sniffing'), { path: '/again' });
    assert.equal(ok.status, 200);
  });
});

/** Prometheus text → the summed value of one metric over the samples whose labels include `match`. */
function total(text: string, metric: string, match: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${metric}{`) && line.includes(match)) sum += Number(line.slice(line.lastIndexOf('}') + 2));
  return sum;
}

describe('tcp_proxy half-close between two sidecars over mTLS with metadata exchange', () => {
  let apps: HalfCloseApps;
  let server: Harness;
  let client: Harness;

  before(async () => {
    const ca = await makeCa('mesh-root');
    const secrets = (c: { certPem: string; keyPem: string }) => {
      const s = new MapSecretProvider();
      s.set('default', { kind: 'certificate', certChain: c.certPem, privateKey: c.keyPem });
      s.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
      return s;
    };
    apps = await new HalfCloseApps().start();
    server = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.11', podName: 'reviews-v2-7d9f', namespace: 'default', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v2' }, meta: { WORKLOAD_NAME: 'reviews-v2' } },
      secrets: secrets(await issue(ca, 'spiffe://cluster.local/ns/default/sa/reviews')),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
    });
    const tlsInbound = { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { alpnProtocols: ISTIO_ALPN, tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } };
    await server.push({
      clusters: [staticCluster('inbound|9080||', [['127.0.0.1', apps.ports.reply]]), staticCluster('inbound|9081||', [['127.0.0.1', apps.ports.banner]])],
      listeners: [
        { name: 'in-reply', address: address('0.0.0.0', 15006), trafficDirection: 'INBOUND', filterChains: [{ transportSocket: tlsInbound, filters: [MX_FILTER, tcpProxy('inbound|9080||')] }] },
        { name: 'in-banner', address: address('0.0.0.0', 15007), trafficDirection: 'INBOUND', filterChains: [{ transportSocket: tlsInbound, filters: [MX_FILTER, tcpProxy('inbound|9081||')] }] },
      ],
    });
    client = await startHarness({
      identity: { type: 'sidecar', ip: '10.244.0.12', podName: 'productpage-v1-5c6b', namespace: 'default', serviceAccount: 'productpage', labels: { app: 'productpage', version: 'v1' }, meta: { WORKLOAD_NAME: 'productpage-v1' } },
      secrets: secrets(await issue(ca, 'spiffe://cluster.local/ns/default/sa/productpage')),
      readinessAddress: '127.0.0.1',
      prometheusPort: 0,
    });
    const tlsOutbound = { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: `outbound_.9080_._.${REVIEWS}`, commonTlsContext: { alpnProtocols: ISTIO_ALPN, tlsCertificateSdsSecretConfigs: [SDS('default')], combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/default/sa/reviews' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') } } } };
    await client.push({
      clusters: [
        staticCluster('out-reply', [['127.0.0.1', server.port('in-reply')]], { filters: [MX_FILTER], transportSocket: tlsOutbound }),
        staticCluster('out-banner', [['127.0.0.1', server.port('in-banner')]], { filters: [MX_FILTER], transportSocket: tlsOutbound }),
      ],
      listeners: [
        { name: 'out-reply', address: address('0.0.0.0', 9080), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [tcpProxy('out-reply')] }] },
        { name: 'out-banner', address: address('0.0.0.0', 9081), trafficDirection: 'OUTBOUND', filterChains: [{ filters: [tcpProxy('out-banner')] }] },
      ],
    });
  });

  after(async () => {
    await client.close();
    await server.close();
    await apps.stop();
  });

  it('delivers the full reply after the client half-closed; each sidecar counts the connection closed once', async () => {
    const scrape = (x: Harness): Promise<string> => request(x.proxy.prometheusPort!, { path: '/stats/prometheus' }).then((r) => r.body);
    const metric = 'istio_tcp_connections_closed_total';
    const srcBefore = total(await scrape(client), metric, 'reporter="source"');
    const dstBefore = total(await scrape(server), metric, 'reporter="destination"');
    const payload = 'y'.repeat(100_000);
    const r = await writeThenHalfClose(client.port('out-reply'), payload);
    assert.equal(r.error, undefined);
    assert.ok(r.gotEnd);
    assert.equal(r.reply, `got:${payload}`);
    let src = srcBefore;
    let dst = dstBefore;
    const deadline = Date.now() + 10_000;
    while ((src === srcBefore || dst === dstBefore) && Date.now() < deadline) {
      src = total(await scrape(client), metric, 'reporter="source"');
      dst = total(await scrape(server), metric, 'reporter="destination"');
    }
    assert.equal(src, srcBefore + 1, 'source reporter counted the close once');
    assert.equal(dst, dstBefore + 1, 'destination reporter counted the close once');
  });

  it('carries client bytes after the server closed its side first', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = net.connect({ port: client.port('out-banner'), host: '127.0.0.1', allowHalfOpen: true });
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => c.end('late bytes over mtls'));
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(chunks).toString()));
    });
    assert.equal(received, 'hello');
    await waitUntil(() => apps.bannerReceived.length > 0, 'banner app got the client bytes');
    assert.equal(apps.bannerReceived.at(-1), 'late bytes over mtls');
  });
});
