import { createLogFactory } from '../../src/lib/log.ts';
import { Proxy } from '../../src/data/proxy.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { proxyCodec } from '../../test/proxy/support/proxy-harness.ts';
import { invariant, type FuzzTarget } from '../engine/fuzz-target.ts';
import { splitRecords } from './xds-records.ts';

let proxy: Proxy | undefined;
let version = 0;

/**
 * What the proxy does with an xDS response from discovery: decode each resource with its own
 * (pruned) Envoy descriptors, then validate + compile + apply the update (clusters, endpoints,
 * listeners that really bind on 127.0.0.1, routes, secrets) through the real config applier of
 * a real, unstarted Proxy. Invariants: decoding may refuse (the ADS client NACKs it), applying
 * never throws: it ACKs or names the NACK's resource and field.
 */
export const xdsApply: FuzzTarget = {
  name: 'xds-apply',
  description: "xDS decode (proxy's descriptors) + config applier: clusters, endpoints, listeners (bound), routes, secrets",
  dictionary: [],
  maxLength: 32 * 1024,
  watch: ['/src/data/xds-client/', '/src/data/listener/', '/src/data/upstream/', '/src/data/l7/', '/src/data/policy/', '/src/data/tls/', '/src/data/matchers/', '/src/data/telemetry/'],
  async setup() {
    proxy = new Proxy({
      identity: { type: 'sidecar', ip: '10.244.0.9', podName: 'fuzz', namespace: 'default', serviceAccount: 'fuzz', labels: { app: 'fuzz' } },
      discovery: '127.0.0.1:1',
      logs: createLogFactory({ levels: 'silent' }),
      codec: proxyCodec(),
      bindAddressOverride: '127.0.0.1',
      portOverride: () => 0,
    });
  },
  run(data) {
    const codec = proxyCodec();
    for (const r of splitRecords(data)) {
      let resource: Record<string, unknown>;
      try {
        resource = codec.decode(r.typeUrl, r.bytes);
      } catch {
        continue; // the ADS client NACKs what it cannot decode
      }
      const name = String(resource[r.typeUrl === TYPE_URL.endpoint ? 'clusterName' : 'name'] ?? '');
      const nack = proxy!.applier.apply({ typeUrl: r.typeUrl, versionInfo: String(++version), resources: [{ name, version: String(version), resource }], removed: [], stateOfTheWorld: false });
      invariant(nack === undefined || (typeof nack === 'string' && nack.length > 0), 'a NACK without a message');
    }
  },
  async teardown() {
    proxy?.close();
    proxy = undefined;
  },
};
