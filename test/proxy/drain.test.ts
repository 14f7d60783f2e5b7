import assert from 'node:assert/strict';
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
