import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { AdsClient } from '../../src/data/xds-client/ads-client.ts';
import { buildNode, istioNodeId, parseNodeId } from '../../src/data/xds-client/node-identity.ts';
import { structToJson } from '../../src/data/xds-client/proto-values.ts';
import { codec, waitUntil } from './support/proxy-harness.ts';

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
