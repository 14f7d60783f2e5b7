import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { httpConnectionManagerFilter, type HcmOptions } from '../../src/control/generate/http-connection-manager.ts';
import { address, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { codec, startHarness, type Harness } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;

/**
 * The HttpConnectionManager settings istiod generates (and so does discovery: WebSocket upgrades,
 * stream_idle_timeout 0s, proxy_100_continue, server_name istio-envoy on inbound), honoured by
 * the proxy through real sockets.
 */
function listener(name: string, port: number, opts: Partial<HcmOptions>, hcmOverride: Obj = {}): Obj {
  const filter = httpConnectionManagerFilter({ statPrefix: name, rds: 'r', ...opts }) as { typedConfig: Obj };
  const json = { name, address: address('0.0.0.0', port), filterChains: [{ filters: [{ ...filter, typedConfig: { ...filter.typedConfig, ...hcmOverride } }] }] };
  const { object, unknownFields } = protoJsonToObject(codec().typeOfUrl(TYPE_URL.listener), json);
  assert.deepEqual(unknownFields, []);
  return object;
}

/** One raw HTTP/1.1 exchange; resolves with everything the proxy wrote until it closed or `until` matched. */
function exchange(port: number, steps: (c: net.Socket, seen: () => string) => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += String(d)));
    c.on('error', reject);
    c.once('connect', () => void steps(c, () => got).then(() => {
      c.destroy();
      resolve(got);
    }, reject));
  });
}

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HttpConnectionManager settings as istiod generates them', () => {
  let h: Harness;
  let app: http.Server;
  let ws: net.Server;

  before(async () => {
    app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += String(d)));
      req.on('end', () => {
        const delay = Number(req.headers['x-delay-ms'] ?? 0);
        setTimeout(() => res.end(`expect=${req.headers.expect ?? ''};body=${body}`), delay);
      });
    });
    // Expect: 100-continue reaches the app, which answers it late (so a 100 seen earlier would be the proxy's own)
    app.on('checkContinue', (req, res) => setTimeout(() => {
      res.writeContinue();
      app.emit('request', req, res);
    }, 150));
    ws = net.createServer((s) => {
      let upgraded = false;
      s.on('data', (d) => {
        if (!upgraded) {
          upgraded = true;
          s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
        } else s.write(String(d).toUpperCase());
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', (app.address() as net.AddressInfo).port]]), staticCluster('ws', [['127.0.0.1', (ws.address() as net.AddressInfo).port]])],
      listeners: [
        listener('outbound', 8080, {}),
        listener('inbound', 8081, { inbound: true }),
        listener('envoy-defaults', 8082, {}, { proxy100Continue: false, streamIdleTimeout: '0.3s' }),
      ],
      routes: [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/ws' }, { cluster: 'ws', timeout: { seconds: 0 } }), route({ prefix: '/grpc' }, { cluster: 'app', timeout: { seconds: 0 }, maxGrpcTimeout: { seconds: 0 } }), route({ prefix: '/' }, { cluster: 'app', timeout: { seconds: 0 } })])])],
    });
  });

  after(async () => {
    await h.close();
    app.close();
    ws.close();
  });

  it('lets a WebSocket upgrade through and relays bytes both ways (upgrade_configs websocket)', async () => {
    const out = await exchange(h.port('outbound'), async (c, seen) => {
      c.write('GET /ws HTTP/1.1\r\nhost: ws\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: x\r\n\r\n');
      await until(() => seen().includes('\r\n\r\n'), '101');
      c.write('hello');
      await until(() => seen().endsWith('HELLO'), 'echoed bytes');
    });
    assert.match(out, /^HTTP\/1\.1 101 /);
  });

  it("forwards Expect: 100-continue and relays the app's own 100 Continue (proxy_100_continue)", async () => {
    const out = await exchange(h.port('outbound'), async (c, seen) => {
      c.write('POST /upload HTTP/1.1\r\nhost: app\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n');
      await until(() => seen().includes('100 Continue'), '100 Continue');
      c.write('hello');
      await until(() => seen().includes('body=hello'), 'the response');
    });
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(out, /expect=100-continue;body=hello/, 'the app saw the Expect header');
  });

  it('answers 100 Continue itself without proxy_100_continue (Envoy default): the app never sees Expect', async () => {
    const out = await exchange(h.port('envoy-defaults'), async (c, seen) => {
      c.write('POST /upload HTTP/1.1\r\nhost: app\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n');
      await until(() => seen().includes('100 Continue'), '100 Continue');
      c.write('hello');
      await until(() => seen().includes('body=hello'), 'the response');
    });
    assert.match(out, /expect=;body=hello/);
  });

  it('keeps a slow stream open with stream_idle_timeout 0s, and resets it with 408 after a set idle timeout', async () => {
    const slow = { headers: { 'x-delay-ms': '900' } };
    const ok = await fetch(`http://127.0.0.1:${h.port('outbound')}/slow`, slow);
    assert.equal(ok.status, 200);
    const started = Date.now();
    const idle = await fetch(`http://127.0.0.1:${h.port('envoy-defaults')}/slow`, slow);
    assert.equal(idle.status, 408);
    assert.equal(await idle.text(), 'stream timeout');
    assert.ok(Date.now() - started < 850, 'reset by the idle timeout, not by the app answering');
  });

  it('applies stream_idle_timeout to each stream of a keep-alive connection, never to the idle connection between them', async () => {
    let closed = false;
    let slowStarted = 0;
    let slowEnded = 0;
    const out = await exchange(h.port('envoy-defaults'), async (c, seen) => {
      c.on('close', () => (closed = true));
      const count = (s: string): number => seen().split(s).length - 1;
      c.write('GET /fast HTTP/1.1\r\nhost: app\r\n\r\n');
      await until(() => count('HTTP/1.1 200') === 1, 'the first response');
      // idle for more than twice the 0.3 s stream idle timeout: the connection stays, nothing is written
      const before = seen().length;
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(seen().length, before, 'nothing written to an idle keep-alive connection');
      assert.equal(closed, false, 'the idle keep-alive connection stays open');
      c.write('GET /fast HTTP/1.1\r\nhost: app\r\n\r\n');
      await until(() => count('HTTP/1.1 200') === 2, 'the second response on the same connection');
      slowStarted = Date.now();
      c.write('GET /slow HTTP/1.1\r\nhost: app\r\nx-delay-ms: 900\r\n\r\n');
      await until(() => seen().includes('408'), 'the idle timeout of the third stream');
      slowEnded = Date.now();
    });
    assert.equal(out.split('HTTP/1.1 200').length - 1, 2);
    assert.match(out, /HTTP\/1\.1 408[^]*stream timeout/);
    assert.ok(slowEnded - slowStarted < 850, `reset by the idle timeout, not by the app answering (${slowEnded - slowStarted} ms)`);
  });

  it("bounds a gRPC request by its grpc-timeout on a route with max_grpc_timeout 0s (istiod's routes), not other requests", async () => {
    const grpc = { headers: { 'x-delay-ms': '900', 'content-type': 'application/grpc', 'grpc-timeout': '200m' } };
    const started = Date.now();
    const r = await fetch(`http://127.0.0.1:${h.port('outbound')}/grpc.Echo/Say`, { method: 'POST', body: '', ...grpc });
    await r.arrayBuffer();
    assert.ok(Date.now() - started < 850, 'ended by the grpc-timeout, not by the app answering');
    assert.ok(r.status === 504 || r.headers.get('grpc-status') !== null, `status ${r.status}`);
    const plain = await fetch(`http://127.0.0.1:${h.port('outbound')}/grpc.Echo/Say`, { method: 'POST', body: '', headers: { 'x-delay-ms': '300', 'grpc-timeout': '100m' } });
    assert.equal(plain.status, 200, 'not gRPC: the route timeout (none) applies');
  });

  it('answers with server: istio-envoy on inbound (server_name)', async () => {
    const r = await fetch(`http://127.0.0.1:${h.port('inbound')}/x`);
    assert.equal(r.headers.get('server'), 'istio-envoy');
    const out = await fetch(`http://127.0.0.1:${h.port('outbound')}/x`);
    assert.equal(out.headers.get('server'), 'envoy');
  });
});
