import { Registry } from 'prom-client';
import { loadEnvoyRoot } from '../../../src/api/xds/envoy-protos.ts';
import { systemClock } from '../../../src/lib/clock.ts';
import { GrpcServer } from '../../../src/lib/grpc-wire/grpc-server.ts';
import { silentLogger } from '../../../src/lib/log.ts';
import { AdsServer } from '../../../src/control/xds/ads-server.ts';
import { XdsMetrics } from '../../../src/control/xds/xds-metrics.ts';
import type { XdsSnapshot } from '../../../src/control/xds/xds-snapshot.ts';
import type protobuf from 'protobufjs';

let cachedRoot: protobuf.Root | undefined;
export function envoyRoot(): protobuf.Root {
  cachedRoot ??= loadEnvoyRoot();
  return cachedRoot;
}

/** An ADS server on discovery's gRPC server, on an ephemeral loopback port. */
export async function startAds(initial?: XdsSnapshot): Promise<{ ads: AdsServer; address: string; registry: Registry; close(): Promise<void> }> {
  const registry = new Registry();
  const ads = new AdsServer({
    root: envoyRoot(),
    metrics: new XdsMetrics(registry),
    clock: systemClock,
    log: silentLogger(),
    ...(initial ? { initialSnapshot: initial } : {}),
  });
  const server = new GrpcServer();
  ads.addToServer(server);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  return {
    ads,
    address,
    registry,
    async close() {
      ads.close();
      server.forceClose();
    },
  };
}

/** Wait until `cond()` holds (polling on the event loop; fails after `timeoutMs`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
