import { loadProxyEnvoyRoot } from '../../../src/api/xds/proxy-envoy-root.ts';
import { TYPE_URL } from '../../../src/api/xds/type-urls.ts';
import { createLogFactory } from '../../../src/lib/log.ts';
import { Proxy, type ProxyOptions } from '../../../src/data/proxy.ts';
import { EnvoyCodec } from '../../../src/data/xds-client/envoy-codec.ts';
import { TestAdsServer } from './test-ads-server.ts';

type Obj = Record<string, unknown>;

let sharedCodec: EnvoyCodec | undefined;
let sharedProxyCodec: EnvoyCodec | undefined;

/** Envoy protos load once per test process. */
export function codec(): EnvoyCodec {
  sharedCodec ??= new EnvoyCodec();
  return sharedCodec;
}

/** The proxy's own (pruned) Envoy types, as a real proxy decodes with them. */
export function proxyCodec(): EnvoyCodec {
  sharedProxyCodec ??= new EnvoyCodec(loadProxyEnvoyRoot());
  return sharedProxyCodec;
}

export interface Harness {
  ads: TestAdsServer;
  proxy: Proxy;
  /** Push a full config (clusters, endpoints, listeners, routes) and wait until applied. */
  push(config: { clusters?: Obj[]; endpoints?: Obj[]; listeners?: Obj[]; routes?: Obj[] }): Promise<void>;
  port(listener: string): number;
  close(): Promise<void>;
}

/** A test ADS server plus an in-process proxy bound on 127.0.0.1 with ephemeral ports. */
export async function startHarness(opts: Partial<ProxyOptions> & { delta?: boolean } = {}): Promise<Harness> {
  const c = codec();
  const ads = new TestAdsServer(c, { delta: opts.delta ?? true });
  await ads.start();
  const proxy = new Proxy({
    identity: { type: 'sidecar', ip: '10.244.0.9', podName: 'test-pod', namespace: 'default', serviceAccount: 'test', labels: { app: 'test' } },
    discovery: ads.address,
    logs: createLogFactory({ levels: process.env.MIZZEN_TEST_LOG ?? 'silent' }),
    codec: proxyCodec(),
    adminPort: 0,
    bindAddressOverride: '127.0.0.1',
    portOverride: () => 0,
    ...opts,
  });
  await proxy.start();
  const h: Harness = {
    ads,
    proxy,
    async push(config) {
      const ads = h.ads;
      const before = ads.acks.length;
      const types: [string, Obj[] | undefined][] = [
        [TYPE_URL.cluster, config.clusters], [TYPE_URL.endpoint, config.endpoints], [TYPE_URL.listener, config.listeners], [TYPE_URL.route, config.routes],
      ];
      for (const [t, list] of types) if (list) ads.set(t, list);
      const want = types.filter(([, l]) => l !== undefined).map(([t]) => t);
      await ads.waitFor(() => want.every((t) => ads.acks.slice(before).some((a) => a.typeUrl === t)), `ACK/NACK of ${want.join(', ')}`);
      if (config.listeners) await waitUntil(() => proxy.listeners.pendingBinds === 0, 'listeners bound');
    },
    port(listener) {
      const p = proxy.boundPort(listener);
      if (p === undefined) throw new Error(`listener ${listener} is not bound`);
      return p;
    },
    async close() {
      proxy.close();
      await h.ads.stop();
    },
  };
  return h;
}

/** Poll a condition (for state that has no event): resolves when true, fails after timeoutMs. */
export async function waitUntil(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
