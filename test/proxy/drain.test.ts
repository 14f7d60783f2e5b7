import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

describe('draining (SIGTERM semantics)', () => {
  let h: Harness;
  let slow: EchoServer;
  let port: number;

  before(async () => {
    slow = await new EchoServer('slow', () => ({ delayMs: 300 })).start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('slow', [['127.0.0.1', slow.port]])],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'slow' })])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    await slow.stop();
  });

  it('stops accepting, lets in-flight requests finish, then closes', async () => {
    slow.count = 0;
    const inFlight = request(port, { path: '/slow' });
    await waitUntil(() => slow.count === 1, 'the request to reach the upstream');
    const drained = h.proxy.drain(5000);
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    await drained;
    await assert.rejects(request(port, { path: '/after' }));
  });
});

describe("graceful termination (Istio's agent on SIGTERM: inbound drained while still accepting)", () => {
  let h: Harness;
  let echo: EchoServer;

  before(async () => {
    echo = await new EchoServer('echo').start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('echo', [['127.0.0.1', echo.port]])],
      listeners: [httpListener('in', 8080, 'web', { trafficDirection: 'INBOUND' }), httpListener('out', 8081, 'web', { trafficDirection: 'OUTBOUND' })],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'echo' })])])],
    });
  });

  after(async () => {
    await h.close();
    await echo.stop();
  });

  it('keeps answering inbound connections with connection: close until they stop coming, outbound untouched; then closes', async () => {
    const inbound = h.port('in');
    const outbound = h.port('out');
    const keepAlive = new http.Agent({ keepAlive: true });
    assert.notEqual((await request(inbound, { agent: keepAlive })).headers.connection, 'close');
    let done = false;
    const terminated = h.proxy.terminate(20_000, 2000).then(() => (done = true));
    // Clients that have not yet heard of the pod's removal keep coming: served, told to reconnect.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      const r = await request(inbound, { agent: keepAlive });
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, 'close');
    }
    assert.equal(done, false, 'still serving while connections come');
    const out = await request(outbound, { agent: keepAlive });
    assert.equal(out.status, 200);
    assert.notEqual(out.headers.connection, 'close', 'the application can still call out');
    keepAlive.destroy();
    await terminated;
    await assert.rejects(request(inbound, {}));
  });
});
