import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { AdsTestClient, sidecarNode } from './support/ads-test-client.ts';
import { envoyRoot, startAds, waitFor } from './support/ads-harness.ts';
import { TestWorld } from './support/test-world.ts';

describe('Delta ADS stream', () => {
  const world = new TestWorld().cluster('c1').cluster('c2').endpoints('c1', 8001).endpoints('c2', 8002).endpoints('c3', 8003);
  let h: Awaited<ReturnType<typeof startAds>>;
  const clients: AdsTestClient[] = [];
  const client = (): AdsTestClient => {
    const c = new AdsTestClient(envoyRoot(), h.address, 'delta');
    clients.push(c);
    return c;
  };

  before(async () => {
    h = await startAds(world.snapshot());
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.close();
  });

  it('sends every cluster to a wildcard subscriber, then only what changed and what was removed', async () => {
    const c = client();
    c.send({ node: sidecarNode('w', 'ns1'), typeUrl: TYPE_URL.cluster, resourceNamesSubscribe: ['*'] });
    const r1 = await c.next();
    assert.deepEqual(r1.resources.map((r) => r.name).sort(), ['c1', 'c2']);
    assert.ok(r1.resources.every((r) => r.version && r.version.length > 0));
    c.send({ typeUrl: TYPE_URL.cluster, responseNonce: r1.nonce });
    await waitFor(() => h.ads.connections.find('w.ns1')[0]?.watched.get(TYPE_URL.cluster)?.nonceAcked === r1.nonce);

    world.cluster('c1', 5).remove(TYPE_URL.cluster, 'c2');
    h.ads.push(world.snapshot(), (p) => (p.podName === 'w' ? 'all' : undefined));
    const r2 = await c.next();
    assert.deepEqual(r2.resources.map((r) => r.name), ['c1']);
    assert.deepEqual(r2.removedResources, ['c2']);
    const decoded = c.decode(r2)[0] as { connectTimeout: { seconds: string } };
    assert.equal(String(decoded.connectTimeout.seconds), '5');
    c.send({ typeUrl: TYPE_URL.cluster, responseNonce: r2.nonce });
    world.cluster('c2');
    world.remove(TYPE_URL.cluster, 'c2');
    // Nothing changed for this client: no response at all.
    h.ads.push(world.snapshot(), (p) => (p.podName === 'w' ? 'all' : undefined));
    await h.ads.idle();
    assert.equal(c.buffered, 0);
  });

  it('handles named subscribe and unsubscribe', async () => {
    const c = client();
    c.send({ node: sidecarNode('n', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ['c1'] });
    const r1 = await c.next();
    assert.deepEqual(r1.resources.map((r) => r.name), ['c1']);
    c.send({ typeUrl: TYPE_URL.endpoint, responseNonce: r1.nonce, resourceNamesSubscribe: ['c3', 'missing'] });
    const r2 = await c.next();
    assert.deepEqual(r2.resources.map((r) => r.name), ['c3']);
    assert.deepEqual(r2.removedResources, ['missing'], 'a name that does not exist is reported removed');
    c.send({ typeUrl: TYPE_URL.endpoint, responseNonce: r2.nonce, resourceNamesUnsubscribe: ['c1'] });
    await waitFor(() => h.ads.connections.find('n.ns1')[0]?.watched.get(TYPE_URL.endpoint)?.nonceAcked === r2.nonce);
    const w = h.ads.connections.find('n.ns1')[0]!.watched.get(TYPE_URL.endpoint)!;
    assert.deepEqual([...w.names].sort(), ['c3', 'missing']);
    world.endpoints('c1', 9001).endpoints('c3', 9003);
    h.ads.push(world.snapshot(), (p) => (p.podName === 'n' ? [TYPE_URL.endpoint] : undefined));
    const r3 = await c.next();
    assert.deepEqual(r3.resources.map((r) => r.name), ['c3'], 'unsubscribed c1 is not pushed');
  });

  it('sends only resources whose version differs from initial_resource_versions', async () => {
    const first = client();
    first.send({ node: sidecarNode('r', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ['c1', 'c2'] });
    const r1 = await first.next();
    const versions = Object.fromEntries(r1.resources.map((r) => [r.name!, r.version!]));
    first.close();
    world.endpoints('c2', 7002);
    h.ads.setSnapshot(world.snapshot());
    const again = client();
    again.send({ node: sidecarNode('r', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ['c1', 'c2'], initialResourceVersions: versions });
    const r2 = await again.next();
    assert.deepEqual(r2.resources.map((r) => r.name), ['c2']);
  });

  it('records a NACK and ignores a stale nonce', async () => {
    const c = client();
    c.send({ node: sidecarNode('k', 'ns1'), typeUrl: TYPE_URL.cluster });
    const r1 = await c.next();
    assert.ok(r1.resources.length > 0, 'legacy wildcard: empty first subscribe on CDS');
    c.send({ typeUrl: TYPE_URL.cluster, responseNonce: 'never-sent', errorDetail: { message: 'stale' } });
    c.send({ typeUrl: TYPE_URL.cluster, responseNonce: r1.nonce, errorDetail: { code: 3, message: 'cluster c1: bad lb' } });
    await waitFor(() => h.ads.connections.find('k.ns1')[0]?.watched.get(TYPE_URL.cluster)?.lastNack !== undefined);
    const w = h.ads.connections.find('k.ns1')[0]!.watched.get(TYPE_URL.cluster)!;
    assert.equal(w.lastNack!.message, 'cluster c1: bad lb');
    assert.match(await h.registry.metrics(), /pilot_total_xds_rejects\{type="cds"\} 1/);
  });
});
