import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

describe('upstream HTTP/1.1 connection pool', () => {
  let h: Harness;
  let server: net.Server;
  let connections = 0;
  let port: number;

  before(async () => {
    // Answers the first request of each connection (keep-alive), then closes the connection when
    // the next request arrives without answering: the idle keep-alive race, made deterministic.
    server = net.createServer((s) => {
      connections++;
      let n = 0;
      s.on('data', () => {
        n++;
        if (n === 1) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else s.destroy();
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', (server.address() as net.AddressInfo).port]])],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'app' })])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    server.close();
  });

  it('reuses keep-alive connections and resends idempotent requests once when a reused connection was closed', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await request(port, { path: `/r${i}` });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, 'ok');
    }
    assert.equal(connections, 4);
  });

  it('relays a close-delimited response body and closes the downstream connection after it', async () => {
    const raw = net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil close')));
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    await h.push({
      clusters: [staticCluster('app', [['127.0.0.1', (server.address() as net.AddressInfo).port]]), staticCluster('raw', [['127.0.0.1', (raw.address() as net.AddressInfo).port]])],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/raw' }, { cluster: 'raw' }), route({ prefix: '/' }, { cluster: 'app' })])])],
    });
    const r = await request(port, { path: '/raw' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'until close');
    assert.equal(r.headers.connection, 'close');
    raw.close();
  });

  it('does not resend non-idempotent requests', async () => {
    const r = await request(port, { method: 'POST', path: '/p', body: 'x' });
    assert.equal(r.status, 503);
    assert.match(r.body, /connection termination/);
  });
});
