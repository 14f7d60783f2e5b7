import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { AdsClient } from '../../src/data/xds-client/ads-client.ts';
import { buildNode, istioNodeId, parseNodeId } from '../../src/data/xds-client/node-identity.ts';
import { structToJson } from '../../src/data/xds-client/proto-values.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import type { XdsUpdate } from '../../src/data/xds-client/ads-client.ts';
import { staticCluster } from './support/envoy-builders.ts';
import { codec, waitUntil } from './support/proxy-harness.ts';
import { TestAdsServer } from './support/test-ads-server.ts';

describe('AdsClient', () => {
  it('reconnects with exponential backoff on the injected clock', async () => {
    const clock = new ManualClock(0);
    const client = new AdsClient({
      target: '127.0.0.1:1', // nothing listens on port 1
      node: buildNode({ type: 'sidecar', ip: '10.0.0.1', podName: 'p', namespace: 'n' }),
      codec: codec(),
      sink: { apply: () => undefined, subscriptions: () => [] },
      clock,
      log: silentLogger(),
      initialBackoffMs: 100,
      maxBackoffMs: 400,
    });
    client.start();
    try {
      for (const expectedMax of [100, 200, 400, 400]) {
        const before = client.connects;
        await waitUntil(() => clock.pendingTimers() === 1, 'a reconnect timer after the stream failed');
        clock.advance(expectedMax / 2 - 1);
        assert.equal(client.connects, before, `no reconnect before half of ${expectedMax} ms (jitter floor)`);
        clock.advance(expectedMax / 2 + 1);
        assert.equal(client.connects, before + 1, `reconnected within ${expectedMax} ms`);
      }
    } finally {
      client.close();
    }
  });
});

describe('AdsClient against a grpc-js ADS server', () => {
  function client(target: string, clock: ManualClock, apply: (u: XdsUpdate) => string | undefined, protocol?: 'delta' | 'sotw'): AdsClient {
    return new AdsClient({
      target,
      node: buildNode({ type: 'sidecar', ip: '10.0.0.1', podName: 'p', namespace: 'n' }),
      codec: codec(),
      sink: { apply, subscriptions: () => [] },
      clock,
      log: silentLogger(),
      protocol,
      initialBackoffMs: 100,
      maxBackoffMs: 400,
    });
  }

  it('falls back from delta to state of the world on UNIMPLEMENTED, ACKs and NACKs with the reason', async () => {
    const ads = new TestAdsServer(codec(), { delta: false });
    await ads.start();
    ads.set(TYPE_URL.cluster, [staticCluster('a', [['127.0.0.1', 1]])]);
    const clock = new ManualClock(0);
    let reject = false;
    const c = client(ads.address, clock, () => (reject ? 'Cluster b: field x: not supported' : undefined));
    c.start();
    try {
      await waitUntil(() => clock.pendingTimers() === 1 || c.activeProtocol === 'sotw', 'the fallback');
      clock.advance(0);
      await ads.waitFor(() => ads.last(TYPE_URL.cluster)?.error === undefined && ads.acks.some((a) => a.typeUrl === TYPE_URL.cluster), 'a SotW ACK');
      assert.equal(c.activeProtocol, 'sotw');
      assert.equal(ads.last(TYPE_URL.cluster)?.delta, false);
      reject = true;
      ads.set(TYPE_URL.cluster, [staticCluster('b', [['127.0.0.1', 2]])]);
      await ads.waitFor(() => ads.last(TYPE_URL.cluster)?.error !== undefined, 'a NACK');
      assert.equal(ads.last(TYPE_URL.cluster)?.error, 'Cluster b: field x: not supported');
      assert.equal(c.status.get(TYPE_URL.cluster)?.nacks, 1);
    } finally {
      c.close();
      await ads.stop();
    }
  });

  it('reconnects after the server restarts (delta) and applies what the new server pushes', async () => {
    let ads = new TestAdsServer(codec());
    const port = await ads.start();
    ads.set(TYPE_URL.cluster, [staticCluster('a', [['127.0.0.1', 1]])]);
    const clock = new ManualClock(0);
    const applied: XdsUpdate[] = [];
    const c = client(ads.address, clock, (u) => void applied.push(u));
    c.start();
    try {
      await waitUntil(() => applied.some((u) => u.typeUrl === TYPE_URL.cluster), 'the first cluster update');
      assert.equal(c.connected, true);
      await ads.stop();
      await waitUntil(() => !c.connected && clock.pendingTimers() === 1, 'the loss to be noticed and a reconnect timer');
      ads = new TestAdsServer(codec());
      await ads.start(port);
      ads.set(TYPE_URL.cluster, [staticCluster('a', [['127.0.0.1', 1]])]);
      const before = c.connects;
      clock.advance(100);
      assert.equal(c.connects, before + 1);
      await ads.waitFor(() => ads.connectedStreams() === 1 && ads.nodes.length > 0, 'the reconnected stream');
      const seen = applied.length;
      ads.set(TYPE_URL.cluster, [staticCluster('a', [['127.0.0.1', 2]])]);
      await ads.waitFor(() => ads.acks.some((a) => a.typeUrl === TYPE_URL.cluster && a.delta && a.error === undefined), 'a delta ACK on the new server');
      assert.ok(applied.length > seen, 'the change pushed by the new server was applied');
      assert.equal(c.connected, true);
    } finally {
      c.close();
      await ads.stop();
    }
  });
});

describe('node identity', () => {
  it('builds and parses Istio node ids and metadata', () => {
    const n = { type: 'sidecar' as const, ip: '10.244.0.5', podName: 'reviews-v1-x', namespace: 'bookinfo', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } };
    const id = istioNodeId(n);
    assert.equal(id, 'sidecar~10.244.0.5~reviews-v1-x.bookinfo~bookinfo.svc.cluster.local');
    assert.deepEqual(parseNodeId(id), { type: 'sidecar', ip: '10.244.0.5', podName: 'reviews-v1-x', namespace: 'bookinfo', domain: 'bookinfo.svc.cluster.local' });
    const node = buildNode(n);
    const md = structToJson(node.metadata);
    assert.equal(md.NAMESPACE, 'bookinfo');
    assert.equal(md.SERVICE_ACCOUNT, 'reviews');
    assert.deepEqual(md.LABELS, { app: 'reviews', version: 'v1' });
    assert.equal(node.cluster, 'reviews.bookinfo');
  });
});
