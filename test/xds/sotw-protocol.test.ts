import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { AdsTestClient, sidecarNode } from './support/ads-test-client.ts';
import { envoyRoot, startAds, waitFor } from './support/ads-harness.ts';
import { TestWorld } from './support/test-world.ts';
import { mergePartialPushes, type PartialPush } from '../../src/control/xds/partial-push.ts';
import type { XdsSnapshot } from '../../src/control/xds/xds-snapshot.ts';

describe('SotW ADS stream', () => {
  const world = new TestWorld().cluster('c1').cluster('c2').endpoints('c1', 8001).endpoints('c2', 8002).listener('l1', 9080).route('9080', 'c1');
  let h: Awaited<ReturnType<typeof startAds>>;
  const clients: AdsTestClient[] = [];
  const client = (): AdsTestClient => {
    const c = new AdsTestClient(envoyRoot(), h.address, 'sotw');
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

  it('answers a wildcard CDS subscription with every cluster and stays quiet on ACK', async () => {
    const c = client();
    c.send({ node: sidecarNode('a', 'ns1'), typeUrl: TYPE_URL.cluster });
    const r = await c.next();
    assert.equal(r.typeUrl, TYPE_URL.cluster);
    assert.deepEqual(c.decode(r).map((x) => x.name).sort(), ['c1', 'c2']);
    c.send({ typeUrl: TYPE_URL.cluster, versionInfo: r.versionInfo, responseNonce: r.nonce });
    await waitFor(() => h.ads.connections.find('a.ns1')[0]?.watched.get(TYPE_URL.cluster)?.nonceAcked === r.nonce, 5000, 'ACK recorded');
    const w = h.ads.connections.find('a.ns1')[0]!.watched.get(TYPE_URL.cluster)!;
    assert.equal(w.versionAcked, r.versionInfo);
    assert.equal(c.buffered, 0);
  });

  it('follows a client that subscribes step by step and then unsubscribes', async () => {
    const c = client();
    c.send({ node: sidecarNode('b', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNames: ['c1'] });
    const r1 = await c.next();
    assert.deepEqual(c.decode(r1).map((x) => x.clusterName), ['c1']);
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: ['c1', 'c2'] });
    const r2 = await c.next();
    assert.deepEqual(c.decode(r2).map((x) => x.clusterName).sort(), ['c1', 'c2']);
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r2.versionInfo, responseNonce: r2.nonce, resourceNames: ['c2'] });
    const r3 = await c.next();
    assert.deepEqual(c.decode(r3).map((x) => x.clusterName), ['c2']);
    // Resending the same full name set is an ACK, not a new subscription.
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r3.versionInfo, responseNonce: r3.nonce, resourceNames: ['c2'] });
    await waitFor(() => h.ads.connections.find('b.ns1')[0]?.watched.get(TYPE_URL.endpoint)?.nonceAcked === r3.nonce);
    assert.equal(c.buffered, 0);
    // Emptying the name set later unsubscribes from everything (not a wildcard).
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r3.versionInfo, responseNonce: r3.nonce, resourceNames: [] });
    const r4 = await c.next();
    assert.equal(r4.resources.length, 0);
  });

  it('treats a stream that starts with no EDS names as a wildcard (legacy, load simulators)', async () => {
    const c = client();
    c.send({ node: sidecarNode('lw', 'ns1'), typeUrl: TYPE_URL.endpoint });
    const r = await c.next();
    assert.deepEqual(c.decode(r).map((x) => x.clusterName).sort(), ['c1', 'c2']);
  });

  it('records a NACK with its error detail and counts it in pilot_total_xds_rejects', async () => {
    const c = client();
    c.send({ node: sidecarNode('n', 'ns1'), typeUrl: TYPE_URL.listener });
    const r = await c.next();
    c.send({ typeUrl: TYPE_URL.listener, versionInfo: '', responseNonce: r.nonce, errorDetail: { code: 3, message: 'listener l1: field foo unsupported' } });
    await waitFor(() => h.ads.connections.find('n.ns1')[0]?.watched.get(TYPE_URL.listener)?.lastNack !== undefined);
    const w = h.ads.connections.find('n.ns1')[0]!.watched.get(TYPE_URL.listener)!;
    assert.equal(w.lastNack!.message, 'listener l1: field foo unsupported');
    assert.equal(w.nonceAcked, undefined);
    const metrics = await h.registry.metrics();
    assert.match(metrics, /pilot_total_xds_rejects\{type="lds"\} 1/);
    assert.equal(c.buffered, 0, 'a NACK does not trigger a resend');
  });

  it('ignores an ACK or NACK carrying a stale nonce', async () => {
    const c = client();
    c.send({ node: sidecarNode('s', 'ns1'), typeUrl: TYPE_URL.route, resourceNames: ['9080'] });
    const r1 = await c.next();
    world.route('9080', 'c2');
    h.ads.push(world.snapshot(), () => [TYPE_URL.route]);
    const r2 = await c.next();
    assert.notEqual(r1.nonce, r2.nonce);
    c.send({ typeUrl: TYPE_URL.route, versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: ['9080', 'other'], errorDetail: { message: 'old' } });
    c.send({ typeUrl: TYPE_URL.route, versionInfo: r2.versionInfo, responseNonce: r2.nonce, resourceNames: ['9080'] });
    await waitFor(() => h.ads.connections.find('s.ns1')[0]?.watched.get(TYPE_URL.route)?.nonceAcked === r2.nonce);
    const w = h.ads.connections.find('s.ns1')[0]!.watched.get(TYPE_URL.route)!;
    assert.equal(w.lastNack, undefined);
    assert.deepEqual([...w.names], ['9080']);
    assert.equal(c.buffered, 0);
  });

  it('pushes watched types in Envoy order (CDS, EDS, LDS, RDS)', async () => {
    const c = client();
    c.send({ node: sidecarNode('o', 'ns1'), typeUrl: TYPE_URL.route, resourceNames: ['9080'] });
    c.send({ typeUrl: TYPE_URL.listener });
    c.send({ typeUrl: TYPE_URL.endpoint, resourceNames: ['c1'] });
    c.send({ typeUrl: TYPE_URL.cluster });
    for (let i = 0; i < 4; i++) await c.next();
    world.cluster('c1', 2).endpoints('c1', 8101).listener('l1', 9081).route('9080', 'c1');
    h.ads.push(world.snapshot(), (p) => (p.podName === 'o' ? 'all' : undefined));
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await c.next()).typeUrl);
    assert.deepEqual(order, [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]);
  });

  it('ends a malformed stream with INVALID_ARGUMENT and keeps serving other clients', async () => {
    const good = client();
    good.send({ node: sidecarNode('g', 'ns1'), typeUrl: TYPE_URL.cluster });
    await good.next();
    const bad = new AdsTestClient(envoyRoot(), h.address, 'sotw', true);
    clients.push(bad);
    bad.send(Buffer.from([0x12, 0x05, 0x41]));
    const st = await bad.waitStatus();
    assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st.details, /malformed DiscoveryRequest/, JSON.stringify(st));
    const noNode = client();
    noNode.send({ typeUrl: TYPE_URL.cluster });
    const st2 = await noNode.waitStatus();
    assert.equal(st2.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st2.details, /node\.id/);
    world.cluster('c2', 3);
    h.ads.push(world.snapshot(), (p) => (p.podName === 'g' ? [TYPE_URL.cluster] : undefined));
    const r = await good.next();
    assert.equal(r.typeUrl, TYPE_URL.cluster);
  });

  it('does not resend a type whose resources did not change', async () => {
    const c = client();
    c.send({ node: sidecarNode('u', 'ns1'), typeUrl: TYPE_URL.cluster });
    c.send({ typeUrl: TYPE_URL.route, resourceNames: ['9080'] });
    await c.next();
    await c.next();
    world.route('9080', 'c2-other');
    h.ads.push(world.snapshot(), (p) => (p.podName === 'u' ? 'all' : undefined));
    const r = await c.next();
    assert.equal(r.typeUrl, TYPE_URL.route);
    await h.ads.idle();
    assert.equal(c.buffered, 0, 'CDS unchanged: not resent');
  });

  it('pushes only the changed endpoints of a named EDS subscription', async () => {
    const c = client();
    c.send({ node: sidecarNode('inc', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNames: ['c1', 'c2'] });
    const r1 = await c.next();
    assert.equal(r1.resources.length, 2);
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: ['c1', 'c2'] });
    world.endpoints('c2', 9902);
    h.ads.push(world.snapshot(), (p) => (p.podName === 'inc' ? [TYPE_URL.endpoint] : undefined));
    const r2 = await c.next();
    assert.deepEqual(c.decode(r2).map((x) => x.clusterName), ['c2']);
    const w = h.ads.connections.find('inc.ns1')[0]!.watched.get(TYPE_URL.endpoint)!;
    assert.deepEqual([...w.lastResources.keys()].sort(), ['c1', 'c2'], 'the proxy still has both');
  });

  it('keeps EDS pushes incremental change after change, for every proxy that had the same endpoints', async () => {
    const cs = [client(), client()];
    const rs = [];
    for (const [i, c] of cs.entries()) {
      c.send({ node: sidecarNode(`inc2-${i}`, 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNames: ['c1', 'c2'] });
      const r = await c.next();
      assert.equal(r.resources.length, 2);
      c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: ['c1', 'c2'] });
      rs.push(r);
    }
    const mine = (p: { podName: string }) => (p.podName.startsWith('inc2-') ? [TYPE_URL.endpoint] : undefined);
    world.endpoints('c1', 9911);
    h.ads.push(world.snapshot(), mine);
    for (const c of cs) assert.deepEqual(c.decode(await c.next()).map((x) => x.clusterName), ['c1']);
    world.endpoints('c2', 9912);
    h.ads.push(world.snapshot(), mine);
    for (const c of cs) {
      const r = await c.next();
      const [only] = c.decode(r);
      assert.deepEqual(c.decode(r).map((x) => x.clusterName), ['c2'], 'the second change too sends only what changed');
      assert.match(JSON.stringify(only), /9912/);
    }
    for (const i of [0, 1]) {
      const w = h.ads.connections.find(`inc2-${i}.ns1`)[0]!.watched.get(TYPE_URL.endpoint)!;
      assert.deepEqual([...w.lastResources.keys()].sort(), ['c1', 'c2']);
    }
  });

  it('a partial push generates and sends only the picked names; after a NACK, the whole set', async () => {
    const c = client();
    const names = ['c1', 'c2'];
    c.send({ node: sidecarNode('part', 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNames: names });
    const r1 = await c.next();
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: names });
    const asked: (readonly string[] | undefined)[] = [];
    const recording = (): XdsSnapshot => {
      const snap = world.snapshot();
      return { version: snap.version, generate: (p, t, n) => (asked.push(n), snap.generate(p, t, n)) };
    };
    const mine = (p: { podName: string }) => (p.podName === 'part' ? [TYPE_URL.endpoint] : undefined);
    const only = (name: string): PartialPush => ({ typeUrl: TYPE_URL.endpoint, pick: (_p, list) => list.filter((n) => n === name) });
    world.endpoints('c2', 9921);
    h.ads.push(recording(), mine, undefined, only('c2'));
    const r2 = await c.next();
    assert.deepEqual(c.decode(r2).map((x) => x.clusterName), ['c2']);
    assert.deepEqual(asked, [['c2']], 'c1 was not generated');
    const w = h.ads.connections.find('part.ns1')[0]!.watched.get(TYPE_URL.endpoint)!;
    assert.deepEqual([...w.lastResources.keys()].sort(), names, 'the proxy still has both');
    // Rejected: the client kept older endpoints than the server thinks; the next push sends all.
    c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: r1.versionInfo, responseNonce: r2.nonce, resourceNames: names, errorDetail: { code: 3, message: 'rejected' } });
    await waitFor(() => w.lastNack !== undefined);
    asked.length = 0;
    world.endpoints('c1', 9922);
    h.ads.push(recording(), mine, undefined, only('c1'));
    const r3 = await c.next();
    assert.deepEqual(c.decode(r3).map((x) => x.clusterName).sort(), names);
    assert.deepEqual(asked, [names]);
  });

  it('two queued partial pushes to one proxy send what either picked', async () => {
    const a = mergePartialPushes({ types: new Set([TYPE_URL.endpoint]), partial: { typeUrl: TYPE_URL.endpoint, pick: () => ['c1'] } }, { types: new Set([TYPE_URL.endpoint]), partial: { typeUrl: TYPE_URL.endpoint, pick: () => ['c2'] } });
    const proxy = h.ads.connections.list()[0]!.proxy;
    assert.deepEqual(a?.pick(proxy, ['c1', 'c2', 'c3']), ['c1', 'c2']);
    assert.equal(mergePartialPushes({ types: 'all', partial: undefined }, { types: new Set([TYPE_URL.endpoint]), partial: { typeUrl: TYPE_URL.endpoint, pick: () => ['c2'] } }), undefined, 'after a full push: whole sets');
    const routesOnly = mergePartialPushes({ types: new Set([TYPE_URL.route]), partial: undefined }, { types: new Set([TYPE_URL.endpoint]), partial: { typeUrl: TYPE_URL.endpoint, pick: () => ['c2'] } });
    assert.deepEqual(routesOnly?.pick(proxy, ['c1', 'c2']), ['c2'], 'a push without EDS leaves the partial one as it is');
  });

  it('encodes a resource shared by many proxies once', async () => {
    const before = h.ads.encoder.encodes;
    const w2 = new TestWorld().cluster('shared-x');
    const snap = w2.snapshot();
    h.ads.setSnapshot(snap);
    const cs = [client(), client(), client()];
    cs.forEach((c, i) => c.send({ node: sidecarNode(`e${i}`, 'ns2'), typeUrl: TYPE_URL.cluster }));
    for (const c of cs) assert.equal(c.decode(await c.next())[0]!.name, 'shared-x');
    assert.equal(h.ads.encoder.encodes - before, 1);
  });
});

describe('SotW ADS streams with large subscriptions (requests over several HTTP/2 frames)', () => {
  // 600 clusters with long names: a 400-name subscription is ~25 KB, two DATA frames or more, and
  // the server assembles such requests in memory its streams share (transientMessages).
  const name = (i: number): string => `outbound|8080||service-${String(i).padStart(4, '0')}.namespace-with-a-long-name.svc.cluster.local`;
  const world = new TestWorld();
  for (let i = 0; i < 600; i++) world.endpoints(name(i), 10000 + i);
  const groupA = Array.from({ length: 400 }, (_, i) => name(i));
  const groupB = Array.from({ length: 400 }, (_, i) => name(i + 200));
  let h: Awaited<ReturnType<typeof startAds>>;
  const clients: AdsTestClient[] = [];
  before(async () => {
    h = await startAds(world.snapshot());
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.close();
  });

  it('gives every stream its own names, interleaved on one connection, change after change', async () => {
    const subs = [groupA, groupB, groupA, groupB, groupA, groupB];
    const cs = subs.map(() => {
      const c = new AdsTestClient(envoyRoot(), h.address, 'sotw');
      clients.push(c);
      return c;
    });
    const names = (r: Awaited<ReturnType<AdsTestClient['next']>>, c: AdsTestClient): string[] => c.decode(r).map((x) => x.clusterName as string).sort();
    cs.forEach((c, i) => c.send({ node: sidecarNode(`big-${i}`, 'ns1'), typeUrl: TYPE_URL.endpoint, resourceNames: subs[i] }));
    const first = await Promise.all(cs.map((c) => c.next()));
    first.forEach((r, i) => assert.deepEqual(names(r, cs[i]!), [...subs[i]!].sort(), `stream ${i}: its own subscription`));
    // ACKs repeating the whole subscription (as Envoy), all at once.
    cs.forEach((c, i) => c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: first[i]!.versionInfo, responseNonce: first[i]!.nonce, resourceNames: subs[i] }));
    await waitFor(() => cs.every((_, i) => h.ads.connections.find(`big-${i}.ns1`)[0]?.watched.get(TYPE_URL.endpoint)?.nonceAcked === first[i]!.nonce), 5000, 'ACKs recorded');
    // One change only group A sees, one both see, one only group B sees.
    world.endpoints(name(10), 20010).endpoints(name(300), 20300).endpoints(name(500), 20500);
    h.ads.push(world.snapshot(), (p) => (p.podName.startsWith('big-') ? [TYPE_URL.endpoint] : undefined));
    const second = await Promise.all(cs.map((c) => c.next()));
    second.forEach((r, i) => assert.deepEqual(names(r, cs[i]!), i % 2 === 0 ? [name(10), name(300)] : [name(300), name(500)], `stream ${i}: only its changed endpoints`));
    cs.forEach((c, i) => c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: second[i]!.versionInfo, responseNonce: second[i]!.nonce, resourceNames: subs[i] }));
    // Group B now asks for group A's names in an ACK (the bytes another stream sent): a new subscription.
    cs.forEach((c, i) => i % 2 === 1 && c.send({ typeUrl: TYPE_URL.endpoint, versionInfo: second[i]!.versionInfo, responseNonce: second[i]!.nonce, resourceNames: groupA }));
    const third = new Map<number, Awaited<ReturnType<AdsTestClient['next']>>>();
    for (const [i, c] of cs.entries()) {
      if (i % 2 === 0) continue;
      third.set(i, await c.next());
      assert.deepEqual(names(third.get(i)!, c), [...groupA].sort(), `stream ${i}: the new subscription`);
    }
    assert.ok(cs.filter((_, i) => i % 2 === 0).every((c) => c.buffered === 0), 'group A got nothing more');
    // One stream moves through names first sent in ACKs (no node before them: the same offsets
    // in every request): each move is seen, whatever memory the previous request was read from.
    const groupC = Array.from({ length: 400 }, (_, i) => name(i + 100));
    const c1 = cs[1]!;
    let last = third.get(1)!;
    for (const next of [groupC, groupB, groupC, groupB]) {
      c1.send({ typeUrl: TYPE_URL.endpoint, versionInfo: last.versionInfo, responseNonce: last.nonce, resourceNames: next });
      last = await c1.next();
      assert.deepEqual(names(last, c1), [...next].sort());
    }
  });
});
