import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { cla, edsCluster, httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

for (const delta of [true, false]) {
  describe(`xDS apply (${delta ? 'delta' : 'state of the world'})`, () => {
    let h: Harness;
    let v1: EchoServer;
    let v2: EchoServer;
    let port: number;

    before(async () => {
      v1 = await new EchoServer('v1').start();
      v2 = await new EchoServer('v2').start();
      h = await startHarness({ delta });
      await h.push({
        clusters: [edsCluster('outbound|9080||reviews.default.svc.cluster.local')],
        endpoints: [cla('outbound|9080||reviews.default.svc.cluster.local', [['127.0.0.1', v1.port]])],
        listeners: [httpListener('0.0.0.0_9080', 9080, '9080')],
        routes: [routeConfig('9080', [vhost('reviews', ['*'], [route({ prefix: '/' }, { cluster: 'outbound|9080||reviews.default.svc.cluster.local' })])])],
      });
      port = h.port('0.0.0.0_9080');
    });

    after(async () => {
      await h.close();
      await v1.stop();
      await v2.stop();
    });

    it('subscribes EDS by cluster and follows endpoint updates', async () => {
      assert.equal((await request(port)).json<EchoReply>().server, 'v1');
      await h.push({ endpoints: [cla('outbound|9080||reviews.default.svc.cluster.local', [['127.0.0.1', v2.port]])] });
      assert.equal((await request(port)).json<EchoReply>().server, 'v2');
      assert.ok(h.proxy.ready());
    });

    it('NACKs an invalid resource naming the field and keeps serving the previous config', async () => {
      const before = h.ads.acks.length;
      h.ads.set(TYPE_URL.route, [routeConfig('9080', [vhost('reviews', ['*'], [route({ safeRegex: { regex: '(' } }, { cluster: 'x' })])])]);
      await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.route)?.error !== undefined, 'route NACK');
      assert.match(h.ads.last(TYPE_URL.route)!.error!, /RouteConfiguration 9080\.virtualHosts\[0\]\.routes\[0\]\.match\.safeRegex\.regex: invalid regex/);
      assert.equal((await request(port)).status, 200);
    });

    it('NACKs fields the proxy cannot honour', async () => {
      const before = h.ads.acks.length;
      h.ads.set(TYPE_URL.cluster, [
        edsCluster('outbound|9080||reviews.default.svc.cluster.local'),
        staticCluster('bad', [['127.0.0.1', 1]], { lbSubsetConfig: { fallbackPolicy: 'ANY_ENDPOINT' } }),
      ]);
      await h.ads.waitFor(() => h.ads.acks.length > before && h.ads.last(TYPE_URL.cluster)?.error !== undefined, 'cluster NACK');
      assert.match(h.ads.last(TYPE_URL.cluster)!.error!, /Cluster bad\.lbSubsetConfig: field not supported/);
      assert.equal(h.proxy.clusters.get('bad'), undefined);
      assert.equal((await request(port)).status, 200);
      const listenerBefore = h.ads.acks.length;
      h.ads.set(TYPE_URL.listener, [httpListener('0.0.0.0_9080', 9080, '9080', {}, { scopedRoutes: { name: 'x' } })]);
      await h.ads.waitFor(() => h.ads.acks.length > listenerBefore && h.ads.last(TYPE_URL.listener)?.error !== undefined, 'listener NACK');
      assert.match(h.ads.last(TYPE_URL.listener)!.error!, /Listener 0\.0\.0\.0_9080\.filterChains\[0\]\.filters\[0\]\.typedConfig/);
      assert.equal((await request(port)).status, 200);
      assert.match(h.proxy.statsText(), /control_plane\.xds_nack: [1-9]/);
    });

    it('keeps serving when discovery goes away and resyncs when it returns', async () => {
      const adsPort = h.ads.port;
      await h.ads.stop();
      await waitUntil(() => !h.proxy.ads.connected, 'disconnect');
      for (let i = 0; i < 5; i++) assert.equal((await request(port)).status, 200);
      const { TestAdsServer } = await import('./support/test-ads-server.ts');
      const { codec } = await import('./support/proxy-harness.ts');
      const ads2 = new TestAdsServer(codec(), { delta });
      ads2.set(TYPE_URL.cluster, [edsCluster('outbound|9080||reviews.default.svc.cluster.local')]);
      ads2.set(TYPE_URL.endpoint, [cla('outbound|9080||reviews.default.svc.cluster.local', [['127.0.0.1', v1.port]])]);
      ads2.set(TYPE_URL.listener, [httpListener('0.0.0.0_9080', 9080, '9080')]);
      ads2.set(TYPE_URL.route, [routeConfig('9080', [vhost('reviews', ['*'], [route({ prefix: '/' }, { cluster: 'outbound|9080||reviews.default.svc.cluster.local' })])])]);
      await ads2.start(adsPort);
      (h as { ads: typeof ads2 }).ads = ads2;
      // requests keep succeeding while the proxy reconnects and re-applies config
      let failures = 0;
      const deadline = Date.now() + 15_000;
      while (!ads2.acks.some((a) => a.typeUrl === TYPE_URL.endpoint) && Date.now() < deadline) {
        if ((await request(port)).status !== 200) failures++;
      }
      assert.ok(ads2.acks.some((a) => a.typeUrl === TYPE_URL.endpoint), 'proxy resubscribed');
      assert.equal(failures, 0);
      assert.equal((await request(port)).json<EchoReply>().server, 'v1');
    });

    it('removes listeners that disappear from a state-of-the-world or delta update', async () => {
      await h.push({ listeners: [httpListener('other', 9090, '9080')] });
      await waitUntil(() => h.proxy.boundPort('0.0.0.0_9080') === undefined, 'listener removed');
      await assert.rejects(request(port));
      port = h.port('other');
      assert.equal((await request(port)).status, 200);
    });
  });
}
