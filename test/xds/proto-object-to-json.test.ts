import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { protoObjectToJson } from '../../src/api/xds/proto-object-to-json.ts';

const root = loadEnvoyRoot();
const TO_JSON = { json: true, enums: String, longs: String, bytes: String, defaults: false, arrays: false };

function roundTrip(typeName: string, json: Record<string, unknown>): Record<string, unknown> {
  const t = root.lookupType(typeName);
  const wire = t.encode(t.fromObject(protoJsonToObject(t, json).object)).finish();
  return protoObjectToJson(t, t.toObject(t.decode(wire), TO_JSON));
}

describe('protoObjectToJson', () => {
  it('prints durations, wrappers and Struct metadata as proto3 JSON, as Envoy admin does', () => {
    const route = {
      name: 'jason',
      match: { prefix: '/' },
      metadata: { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews', n: 3, l: [1, 'a', { z: true }] } } },
      route: { cluster: 'outbound|9080|v2|reviews', timeout: '1.500s', retryPolicy: { numRetries: 2, perTryTimeout: '0.010s' } },
    };
    assert.deepEqual(roundTrip('envoy.config.route.v3.Route', route), route);
  });

  it('converts inside Any payloads too', () => {
    const listener = {
      name: 'l',
      filterChains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.tcp_proxy',
              typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix: 's', cluster: 'c', idleTimeout: '3600s', maxConnectAttempts: 3 },
            },
          ],
        },
      ],
    };
    assert.deepEqual(roundTrip('envoy.config.listener.v3.Listener', listener), listener);
  });
});
