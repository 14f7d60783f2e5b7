import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { StreamInfo } from '../../src/data/l7/stream-info.ts';
import { MapSecretProvider } from '../../src/data/tls/secret-provider.ts';
import { address, DOWNSTREAM_TLS, hcm, httpListener, route, routeConfig, staticCluster, struct, UPSTREAM_TLS, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';
import { issue, makeCa } from './support/test-pki.ts';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const H2 = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } };

const SDS = (name: string) => ({ name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
const INSPECTORS = [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }];

function downstreamTls(requireClient: boolean) {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': DOWNSTREAM_TLS,
      requireClientCertificate: { value: requireClient },
      commonTlsContext: {
        alpnProtocols: ['istio-peer-exchange', 'istio', 'h2', 'http/1.1'],
        tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3' },
        tlsCertificateSdsSecretConfigs: [SDS('default')],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] }, validationContextSdsSecretConfig: SDS('ROOTCA') },
      },
    },
  };
}

function upstreamTls(san: string) {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': UPSTREAM_TLS,
      sni: 'outbound_.9080_._.server.default.svc.cluster.local',
      commonTlsContext: {
        alpnProtocols: ['istio-peer-exchange', 'istio'],
        tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3' },
        tlsCertificateSdsSecretConfigs: [SDS('default')],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: san }] }, validationContextSdsSecretConfig: SDS('ROOTCA') },
      },
    },
  };
}

describe('mTLS between two proxies (SDS secrets, SPIFFE SAN checks, STRICT/PERMISSIVE)', () => {
  let server: Harness;
  let client: Harness;
  let app: EchoServer;
  let clientPort: number;
  let strictPort: number;
  let permissivePort: number;
  const serverInfos: { peer: string; mtls: boolean }[] = [];
  let foreign: { certPem: string; keyPem: string };
  let rootPem: string;
  let clientCert: { certPem: string; keyPem: string };
  let grpcServer: http2.Http2Server;

  before(async () => {
    const ca = await makeCa('mesh-root');
    const other = await makeCa('foreign-root');
    rootPem = ca.certPem;
    const serverCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/server');
    clientCert = await issue(ca, 'spiffe://cluster.local/ns/default/sa/client');
    foreign = await issue(other, 'spiffe://cluster.local/ns/default/sa/client');
    const serverSecrets = new MapSecretProvider();
    serverSecrets.set('default', { kind: 'certificate', certChain: serverCert.certPem, privateKey: serverCert.keyPem });
    serverSecrets.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    const clientSecrets = new MapSecretProvider();
    clientSecrets.set('default', { kind: 'certificate', certChain: clientCert.certPem, privateKey: clientCert.keyPem });
    clientSecrets.set('ROOTCA', { kind: 'validation', trustedCa: ca.certPem });
    app = await new EchoServer('app').start();
    grpcServer = http2.createServer();
    grpcServer.on('stream', (st) => {
      const stream = st as http2.ServerHttp2Stream;
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end('pong');
      });
    });
    await new Promise<void>((r) => grpcServer.listen(0, '127.0.0.1', r));
    server = await startHarness({
      secrets: serverSecrets,
      observers: [{ onStreamComplete: (i: StreamInfo) => serverInfos.push({ peer: i.peerPrincipal, mtls: i.mtls }) }],
    });
    // as istiod generates inbound HCMs
    const inboundHcm = hcm('inbound|9080||', { forwardClientCertDetails: 'APPEND_FORWARD', setCurrentClientCertDetails: { subject: { value: true }, dns: true, uri: true } });
    await server.push({
      clusters: [staticCluster('inbound|9080||', [['127.0.0.1', app.port]]), staticCluster('inbound|7070||', [['127.0.0.1', (grpcServer.address() as AddressInfo).port]], H2)],
      listeners: [
        { name: 'strict', address: address('0.0.0.0', 15006), listenerFilters: INSPECTORS, filterChains: [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: downstreamTls(true), filters: [inboundHcm] }] },
        // transport_socket_connect_timeout: a handshake not finished in 0.3 s closes the connection
        { name: 'handshake-timeout', address: address('0.0.0.0', 15016), listenerFilters: INSPECTORS, filterChains: [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: downstreamTls(true), transportSocketConnectTimeout: { nanos: 300_000_000 }, filters: [inboundHcm] }] },
        {
          name: 'permissive', address: address('0.0.0.0', 15007), listenerFilters: INSPECTORS, filterChains: [
            { filterChainMatch: { transportProtocol: 'tls' }, transportSocket: downstreamTls(true), filters: [inboundHcm] },
            { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [inboundHcm] },
          ],
        },
      ],
      routes: [routeConfig('inbound|9080||', [vhost('inbound', ['*'], [route({ prefix: '/grpc.' }, { cluster: 'inbound|7070||' }), route({ prefix: '/' }, { cluster: 'inbound|9080||' })])])],
    });
    strictPort = server.port('strict');
    permissivePort = server.port('permissive');
    client = await startHarness({ secrets: clientSecrets });
    const autoMtls = staticCluster('auto', [], {
      loadAssignment: { clusterName: 'auto', endpoints: [{ lbEndpoints: [{ endpoint: { address: address('127.0.0.1', strictPort) }, metadata: { filterMetadata: { 'envoy.transport_socket_match': struct({ tlsMode: 'istio' }) } } }] }] },
      transportSocketMatches: [
        { name: 'tlsMode-istio', match: struct({ tlsMode: 'istio' }), transportSocket: upstreamTls('spiffe://cluster.local/ns/default/sa/server') },
        { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
      ],
    });
    await client.push({
      clusters: [
        staticCluster('mtls', [['127.0.0.1', strictPort]], { transportSocket: upstreamTls('spiffe://cluster.local/ns/default/sa/server') }),
        staticCluster('mtls-h2', [['127.0.0.1', strictPort]], { transportSocket: upstreamTls('spiffe://cluster.local/ns/default/sa/server'), ...H2 }),
        staticCluster('wrong-san', [['127.0.0.1', strictPort]], { transportSocket: upstreamTls('spiffe://cluster.local/ns/default/sa/someone-else') }),
        staticCluster('plain-to-strict', [['127.0.0.1', strictPort]]),
        staticCluster('plain-to-permissive', [['127.0.0.1', permissivePort]]),
        autoMtls,
      ],
      listeners: [httpListener('out', 9080, 'out')],
      routes: [routeConfig('out', [vhost('all', ['*'], [
        route({ prefix: '/mtls' }, { cluster: 'mtls' }),
        route({ prefix: '/grpc.' }, { cluster: 'mtls-h2' }),
        route({ prefix: '/wrong' }, { cluster: 'wrong-san' }),
        route({ prefix: '/plain-strict' }, { cluster: 'plain-to-strict' }),
        route({ prefix: '/plain-permissive' }, { cluster: 'plain-to-permissive' }),
        route({ prefix: '/auto' }, { cluster: 'auto' }),
      ])])],
    });
    clientPort = client.port('out');
  });

  after(async () => {
    await client.close();
    await server.close();
    await app.stop();
    await new Promise<void>((r) => grpcServer.close(() => r()));
  });

  it('carries requests over mTLS with the SPIFFE identity visible to the server side', async () => {
    serverInfos.length = 0;
    for (let i = 0; i < 5; i++) {
      const r = await request(clientPort, { path: '/mtls' });
      assert.equal(r.status, 200);
      // Envoy's element: By (our identity), Hash (SHA-256 of the client certificate), Subject, URI
      assert.match(String(r.json<EchoReply>().headers['x-forwarded-client-cert']), /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/server;Hash=[0-9a-f]{64};Subject="[^"]*";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/);
    }
    assert.deepEqual(serverInfos[0], { peer: 'spiffe://cluster.local/ns/default/sa/client', mtls: true });
    // keep-alive pool: one upstream TLS connection for sequential requests
    assert.match(client.proxy.statsText(), /cluster\.mtls\.upstream_cx_total: 1\n/);
  });

  it('closes a connection whose TLS handshake does not finish within transport_socket_connect_timeout', async () => {
    // a real ClientHello, then silence: the server answers and waits for the client's Finished
    const hello = await new Promise<Buffer>((resolve) => {
      const sink = net.createServer((c) => c.once('data', (d: Buffer) => {
        resolve(d);
        c.destroy();
        sink.close();
      }));
      sink.listen(0, '127.0.0.1', () => tls.connect({ port: (sink.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false }).on('error', () => undefined));
    });
    const started = Date.now();
    const closed = await new Promise<boolean>((resolve) => {
      const c = net.connect(server.port('handshake-timeout'), '127.0.0.1', () => c.write(hello));
      c.on('data', () => undefined);
      c.on('error', () => undefined);
      c.on('close', () => resolve(true));
      setTimeout(() => { c.destroy(); resolve(false); }, 5000);
    });
    assert.ok(closed && Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
  });

  it('carries gRPC (HTTP/2 with trailers) across the mTLS hop', async () => {
    const res = await new Promise<{ status: unknown; body: string; trailers: http2.IncomingHttpHeaders | undefined }>((resolve, reject) => {
      const c = http2.connect(`http://127.0.0.1:${clientPort}`);
      c.on('error', reject);
      const req = c.request({ ':method': 'POST', ':path': '/grpc.Echo/Ping', 'content-type': 'application/grpc' });
      let status: unknown;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let body = '';
      req.on('response', (h) => (status = h[':status']));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        c.close();
        resolve({ status, body, trailers });
      });
      req.on('error', reject);
      req.end('ping');
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'pong');
    assert.equal(res.trailers?.['grpc-status'], '0');
  });

  it('uses auto mTLS for endpoints labelled tlsMode=istio', async () => {
    serverInfos.length = 0;
    const auto = await request(clientPort, { path: '/auto' });
    assert.equal(auto.status, 200, auto.body);
    // a resumed TLS session still carries the client's identity
    assert.deepEqual(serverInfos[0], { peer: 'spiffe://cluster.local/ns/default/sa/client', mtls: true });
  });

  it('refuses a server whose SAN does not match (503 UF, TLS error)', async () => {
    const r = await request(clientPort, { path: '/wrong' });
    assert.equal(r.status, 503);
    assert.match(r.body, /connection failure, transport failure reason: TLS_error/);
  });

  it('STRICT refuses plaintext; PERMISSIVE accepts plaintext and mTLS on one port', async () => {
    assert.equal((await request(clientPort, { path: '/plain-strict' })).status, 503);
    serverInfos.length = 0;
    assert.equal((await request(clientPort, { path: '/plain-permissive' })).status, 200);
    assert.deepEqual(serverInfos[0], { peer: '', mtls: false });
    assert.equal((await request(permissivePort, { path: '/' })).status, 200);
  });

  it('rejects TLS clients without a certificate or with a foreign CA', async () => {
    const attempt = (opts: tls.ConnectionOptions) => new Promise<string>((resolve) => {
      const s = tls.connect({ port: strictPort, host: '127.0.0.1', ca: rootPem, checkServerIdentity: () => undefined, ...opts }, () => {
        s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      });
      s.on('data', (d) => {
        resolve(String(d).split('\r\n')[0]);
        s.destroy();
      });
      s.on('error', (e) => resolve(`error: ${e.message}`));
      s.on('close', () => resolve('closed'));
    });
    assert.match(await attempt({}), /error|closed/);
    assert.match(await attempt({ cert: foreign.certPem, key: foreign.keyPem }), /error|closed/);
    assert.equal(await attempt({ cert: clientCert.certPem, key: clientCert.keyPem }), 'HTTP/1.1 200 OK');
  });
});
