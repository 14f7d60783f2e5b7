import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogFactory } from '../../src/lib/log.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { Proxy } from '../../src/data/proxy.ts';
import { startAds, envoyRoot } from '../xds/support/ads-harness.ts';
import { TestWorld } from '../xds/support/test-world.ts';
import { EnvoyCodec } from '../../src/data/xds-client/envoy-codec.ts';
import { hcm } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { waitUntil } from './support/proxy-harness.ts';

/**
 * Cross-plane: the proxy against discovery's own ADS server (src/control/xds), over delta and
 * state-of-the-world streams: subscriptions, ACKs, and traffic routed by what it serves.
 */
for (const protocol of ['delta', 'sotw'] as const) {
  describe(`proxy against discovery's ADS server (${protocol})`, () => {
    let ads: Awaited<ReturnType<typeof startAds>>;
    let proxy: Proxy;
    let app: EchoServer;
    const world = new TestWorld();

    before(async () => {
      app = await new EchoServer('app').start();
      world.cluster('outbound|9080||app.default.svc.cluster.local').endpoints('outbound|9080||app.default.svc.cluster.local', app.port);
      world.put(TYPE_URL.listener, '0.0.0.0_9080', { name: '0.0.0.0_9080', address: { socketAddress: { address: '127.0.0.1', portValue: 0 } }, filterChains: [{ filters: [hcm('9080')] }] });
      world.route('9080', 'outbound|9080||app.default.svc.cluster.local');
      ads = await startAds(world.snapshot());
      proxy = new Proxy({
        identity: { type: 'sidecar', ip: '10.244.0.20', podName: 'client-0', namespace: 'default' },
        discovery: ads.address,
        xdsProtocol: protocol,
        logs: createLogFactory({ levels: 'silent' }),
        codec: new EnvoyCodec(envoyRoot()),
      });
      await proxy.start();
    });

    after(async () => {
      proxy.close();
      await ads.close();
      await app.stop();
    });

    it('subscribes, ACKs every type and routes traffic', async () => {
      await proxy.whenReady();
      await waitUntil(() => proxy.boundPort('0.0.0.0_9080') !== undefined, 'listener bound');
      for (const t of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]) {
        const st = proxy.ads.status.get(t)!;
        assert.ok(st.acks > 0 && st.nacks === 0, `${t}: ${JSON.stringify(st)}`);
      }
      const r = await request(proxy.boundPort('0.0.0.0_9080')!, { path: '/hello' });
      assert.equal(r.json<EchoReply>().server, 'app');
      assert.equal(proxy.ads.activeProtocol, protocol);
    });
  });
}
