import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

describe('HTTP upgrades (WebSocket)', () => {
  let h: Harness;
  let server: net.Server;
  let port: number;

  before(async () => {
    // answers the upgrade with 101 and then echoes bytes upper-cased
    server = net.createServer((s) => {
      let upgraded = false;
      s.on('data', (d) => {
        if (!upgraded) {
          upgraded = true;
          s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
          return;
        }
        s.write(String(d).toUpperCase());
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('ws', [['127.0.0.1', (server.address() as net.AddressInfo).port]])],
      listeners: [httpListener('web', 8080, 'web', {}, { upgradeConfigs: [{ upgradeType: 'websocket' }] })],
      routes: [routeConfig('web', [vhost('all', ['*'], [route({ prefix: '/' }, { cluster: 'ws' })])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    server.close();
  });

  it('switches protocols and relays bytes both ways', async () => {
    const c = net.connect(port, '127.0.0.1');
    const read = (): Promise<string> => new Promise((r) => c.once('data', (d) => r(String(d))));
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('GET /chat HTTP/1.1\r\nhost: ws.example\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: x\r\n\r\n');
    const head = await read();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /upgrade: websocket/i);
    c.write('hello');
    assert.equal(await read(), 'HELLO');
    c.write('again');
    assert.equal(await read(), 'AGAIN');
    c.destroy();
  });
});
