import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cla, edsCluster, httpListener, route, routeConfig, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, type Harness } from './support/proxy-harness.ts';

describe('load balancing and endpoint health', () => {
  let h: Harness;
  const servers: EchoServer[] = [];
  let port: number;

  before(async () => {
    for (const n of ['a', 'b', 'c']) servers.push(await new EchoServer(n, () => ({ delayMs: 0 })).start());
    const eps = servers.map((s) => ['127.0.0.1', s.port] as [string, number]);
    h = await startHarness();
    await h.push({
      clusters: [
        edsCluster('rr'),
        edsCluster('ring', { lbPolicy: 'RING_HASH' }),
        edsCluster('lr', { lbPolicy: 'LEAST_REQUEST' }),
        edsCluster('random', { lbPolicy: 'RANDOM' }),
        edsCluster('health', { commonLbConfig: { healthyPanicThreshold: {} } }),
        edsCluster('panic'),
        edsCluster('prio'),
      ],
      endpoints: [
        cla('rr', eps), cla('ring', eps), cla('lr', eps), cla('random', eps),
        cla('health', eps, { health: ['HEALTHY', 'UNHEALTHY', 'DRAINING'] }),
        cla('panic', eps, { health: ['HEALTHY', 'UNHEALTHY', 'DRAINING'] }),
        {
          clusterName: 'prio',
          endpoints: [
            { priority: 0, locality: { region: 'r1', zone: 'z1' }, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: servers[0].port } } }, healthStatus: 'UNHEALTHY' }] },
            { priority: 1, locality: { region: 'r1', zone: 'z2' }, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: servers[1].port } } } }] },
            { priority: 2, locality: { region: 'r2', zone: 'z1' }, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: servers[2].port } } } }] },
          ],
        },
      ],
      listeners: [httpListener('web', 8080, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/rr' }, { cluster: 'rr' }),
        route({ prefix: '/ring-header' }, { cluster: 'ring', hashPolicy: [{ header: { headerName: 'x-user' } }] }),
        route({ prefix: '/ring-cookie' }, { cluster: 'ring', hashPolicy: [{ cookie: { name: 'session' } }] }),
        route({ prefix: '/ring-ip' }, { cluster: 'ring', hashPolicy: [{ connectionProperties: { sourceIp: true } }] }),
        route({ prefix: '/ring-ttl' }, { cluster: 'ring', hashPolicy: [{ cookie: { name: 'sticky', ttl: { seconds: 60 }, path: '/' } }] }),
        route({ prefix: '/lr' }, { cluster: 'lr' }),
        route({ prefix: '/random' }, { cluster: 'random' }),
        route({ prefix: '/health' }, { cluster: 'health' }),
        route({ prefix: '/panic' }, { cluster: 'panic' }),
        route({ prefix: '/prio' }, { cluster: 'prio' }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    for (const s of servers) await s.stop();
  });

  const server = async (path: string, headers: Record<string, string> = {}, localAddress?: string) =>
    (await request(port, { path, headers, localAddress })).json<EchoReply>().server;

  it('round robin visits every endpoint in turn', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await server('/rr'));
    assert.deepEqual(new Set(seen), new Set(['a', 'b', 'c']));
    assert.equal(seen[0], seen[3]);
  });

  it('ring hash keeps a key on one endpoint (header, cookie, source IP)', async () => {
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const first = await server('/ring-header', { 'x-user': user });
      for (let i = 0; i < 4; i++) assert.equal(await server('/ring-header', { 'x-user': user }), first);
    }
    const c = await server('/ring-cookie', { cookie: 'a=1; session=xyz' });
    for (let i = 0; i < 4; i++) assert.equal(await server('/ring-cookie', { cookie: 'session=xyz; b=2' }), c);
    const ip = await server('/ring-ip', {}, '127.0.0.5');
    for (let i = 0; i < 4; i++) assert.equal(await server('/ring-ip', {}, '127.0.0.5'), ip);
    const spread = new Set<string>();
    for (let i = 0; i < 30; i++) spread.add(await server('/ring-header', { 'x-user': `user-${i}` }));
    assert.ok(spread.size >= 2, 'different keys spread over endpoints');
  });

  it('generates the hash cookie when a TTL is configured and the client has none', async () => {
    const first = await request(port, { path: '/ring-ttl' });
    const setCookie = String(first.headers['set-cookie']);
    assert.match(setCookie, /^sticky="[0-9a-f]+"; Max-Age=60; Path=\/; HttpOnly$/);
    const cookie = setCookie.split(';')[0];
    const server0 = first.json<EchoReply>().server;
    for (let i = 0; i < 5; i++) {
      const r = await request(port, { path: '/ring-ttl', headers: { cookie } });
      assert.equal(r.json<EchoReply>().server, server0);
      assert.equal(r.headers['set-cookie'], undefined);
    }
  });

  it('least request and random use every endpoint', async () => {
    for (const path of ['/lr', '/random']) {
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) seen.add(await server(path));
      assert.equal(seen.size, 3, `${path} saw ${[...seen]}`);
    }
  });

  it('sends nothing to UNHEALTHY or DRAINING endpoints', async () => {
    for (let i = 0; i < 10; i++) assert.equal(await server('/health'), 'a');
  });

  it('fails over to the next locality priority when the first has no healthy endpoint', async () => {
    for (let i = 0; i < 5; i++) assert.equal(await server('/prio'), 'b');
  });

  it('balances over all endpoints below the panic threshold (Envoy default 50 %)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) seen.add(await server('/panic'));
    assert.equal(seen.size, 3);
  });
});
