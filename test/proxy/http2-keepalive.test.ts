import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionPoolFields, shouldH2Upgrade } from '../../src/control/generate/cluster-traffic-policy.ts';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';
import { request } from './support/http-client.ts';
import * as http from 'node:http';

type Obj = Record<string, unknown>;
const options = (fields: Obj): Obj => ((fields.typedExtensionProtocolOptions as Obj)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] as Obj);

describe('h2UpgradePolicy and http2KeepAlive → the cluster\'s HTTP/2 options, as istiod', () => {
  it("upgrades as istiod's shouldH2Upgrade: the rule's policy, else MeshConfig's on HTTP ports, never with useClientProtocol", () => {
    assert.equal(shouldH2Upgrade({ http: { h2UpgradePolicy: 'UPGRADE' } }, false, undefined), true, 'a rule upgrades even a sniffed port');
    assert.equal(shouldH2Upgrade({ http: { h2UpgradePolicy: 'DO_NOT_UPGRADE' } }, true, 'UPGRADE'), false);
    assert.equal(shouldH2Upgrade(undefined, true, 'UPGRADE'), true);
    assert.equal(shouldH2Upgrade(undefined, false, 'UPGRADE'), false, 'not a declared HTTP port');
    assert.equal(shouldH2Upgrade({ http: { useClientProtocol: true } }, true, 'UPGRADE'), false);
    const up = connectionPoolFields({ http: { http2KeepAlive: { interval: '30s', timeout: '5s' } } }, false, '10s', true, undefined, true);
    assert.deepEqual(options(up).explicitHttpConfig, { http2ProtocolOptions: { connectionKeepalive: { interval: '30s', timeout: '5s' } } });
    const plain = connectionPoolFields({ http: { http2KeepAlive: { interval: '30s' } } }, false, '10s', false, undefined, false);
    assert.equal(plain.typedExtensionProtocolOptions, undefined, 'an HTTP/1.1 cluster has no HTTP/2 keepalive');
  });
});

describe('HTTP/2 connection keepalive honoured by the proxy (real sockets)', () => {
  let h: Harness;
  let server: http2.Http2Server;
  let relay: net.Server;
  let pings = 0;
  let frozen = false;
  let upstreamClosed = 0;

  before(async () => {
    server = http2.createServer();
    server.on('session', (s) => s.on('ping', () => pings++));
    server.on('stream', (st: http2.ServerHttp2Stream) => {
      st.respond({ ':status': 200 });
      st.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // a TCP relay in front of the server that can stop carrying the server's bytes (PING acks lost)
    relay = net.createServer((down) => {
      const up = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      down.on('data', (d) => up.write(d));
      up.on('data', (d) => { if (!frozen) down.write(d); });
      down.on('close', () => { upstreamClosed++; up.destroy(); });
      up.on('close', () => down.destroy());
      down.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    h = await startHarness();
    const h2 = { explicitHttpConfig: { http2ProtocolOptions: { connectionKeepalive: { interval: { nanos: 100_000_000 }, timeout: { nanos: 400_000_000 } } } } };
    await h.push({
      clusters: [staticCluster('h2', [['127.0.0.1', (relay.address() as net.AddressInfo).port]], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...h2 } } })],
      listeners: [httpListener('web', 0, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'h2' })])])],
    });
  });

  after(async () => {
    await h.close();
    relay.close();
    server.close();
  });

  it('PINGs the upstream connection every interval and closes it when a PING goes unanswered for the timeout', async () => {
    const client = http2.connect(`http://127.0.0.1:${h.port('web')}`);
    client.on('error', () => undefined);
    const status = await new Promise<number>((resolve, reject) => {
      const rq = client.request({ ':path': '/' });
      rq.on('response', (hd) => resolve(Number(hd[':status'])));
      rq.on('error', reject);
      rq.resume();
    });
    assert.equal(status, 200);
    await waitUntil(() => pings >= 8, "eight keepalive PINGs (longer than interval + timeout)", 20_000);
    assert.equal(upstreamClosed, 0, 'answered PINGs keep the connection');
    frozen = true;
    await waitUntil(() => upstreamClosed === 1, 'the proxy closing the connection whose PING went unanswered', 20_000);
    client.close();
  });
});

describe('HTTP/1.1 clients of an HTTP/2 cluster (h2UpgradePolicy UPGRADE) go upstream over HTTP/2 (real sockets)', () => {
  let h: Harness;
  let server: net.Server;
  let h2Server: http2.Http2Server;
  const seen: string[] = [];
  let sessions = 0;
  const cluster = (h2: boolean): Obj => staticCluster('up', [['127.0.0.1', (server.address() as net.AddressInfo).port]], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: h2 ? { http2ProtocolOptions: {} } : { httpProtocolOptions: {} } } } });

  before(async () => {
    // h2c and HTTP/1.1 on one port (by the connection's first bytes): the upstream tells which protocol each request came in
    const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        seen.push(`${req.httpVersion} ${req.method} ${req.url}`);
        (res as http.ServerResponse).writeHead(201, { 'x-upstream': req.httpVersion });
        res.end(`upstream saw ${body || req.url}`);
      });
    };
    const h2 = http2.createServer(handler);
    h2.on('session', () => sessions++);
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const h1 = http.createServer(handler);
    // HTTP/2 reads the socket natively, so an h2 connection is relayed to the h2 server's own port
    server = net.createServer((sock) => sock.once('data', (d: Buffer) => {
      sock.pause();
      sock.unshift(d);
      if (!d.toString('latin1').startsWith('PRI * HTTP/2.0')) {
        h1.emit('connection', sock);
        sock.resume();
        return;
      }
      const up = net.connect((h2.address() as net.AddressInfo).port, '127.0.0.1');
      sock.pipe(up).pipe(sock);
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    }));
    h2Server = h2;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h = await startHarness();
    await h.push({
      clusters: [cluster(false)],
      listeners: [httpListener('web', 0, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'up' })])])],
    });
  });

  after(async () => {
    await h.close();
    server.close();
    h2Server.close();
  });

  it('an HTTP/1.1 cluster gets HTTP/1.1; once it speaks HTTP/2, the same keep-alive client\'s GET and POST go as streams of one HTTP/2 connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(h.port('web'), { path: '/before', agent });
    assert.equal(first.headers['x-upstream'], '1.1');
    await h.push({ clusters: [cluster(true)] });
    const get = await request(h.port('web'), { path: '/a', agent });
    assert.equal(get.status, 201);
    assert.equal(get.body, 'upstream saw /a');
    assert.equal(get.headers['x-upstream'], '2.0');
    const post = await request(h.port('web'), { path: '/b', method: 'POST', body: 'payload', agent });
    assert.equal(post.body, 'upstream saw payload');
    assert.deepEqual(seen, ['1.1 GET /before', '2.0 GET /a', '2.0 POST /b']);
    assert.equal(sessions, 1, 'one HTTP/2 connection for both');
    agent.destroy();
  });
});
