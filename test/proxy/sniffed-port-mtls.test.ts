import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { compileListener } from '../../src/data/listener/listener-config.ts';
import { selectFilterChain } from '../../src/data/listener/filter-chain-selector.ts';
import { HttpFilterRegistry } from '../../src/data/l7/http-filter.ts';
import { NetworkFilterRegistry } from '../../src/data/listener/network-filter.ts';
import { istioHttpAlpn } from '../../src/data/tls/istio-alpn.ts';
import type { TlsSpec } from '../../src/data/tls/tls-context-config.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { codec } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;

/**
 * A Service port with no name and no appProtocol (protocol sniffed) between two sidecars over
 * mesh mTLS: HTTP from the client's sidecar must reach the server's HTTP chain, other mesh TCP the
 * TCP chain (with the metadata exchange). Before, both landed on the TCP chain, whose server
 * selected ALPN istio-peer-exchange, and HTTP requests got 503 "connection termination".
 */
describe('sniffed service port over mesh mTLS', () => {
  const http = new HttpFilterRegistry();
  for (const n of ['istio.metadata_exchange', 'istio.stats', 'istio.alpn', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors']) http.ignoreName(n);
  const network = new NetworkFilterRegistry().ignoreName('istio.metadata_exchange').ignoreName('istio.stats');
  const services = [{ name: 'web', vip: '10.96.1.1', ports: [{ port: 8080, protocol: 'UNSUPPORTED' as const, name: 'port-8080' }] }];
  const endpoints = [{ service: 'web', address: '10.244.2.1', labels: { app: 'web' } }];
  const meshTls = { key: 'k', alpn: ['istio-peer-exchange', 'istio'] } as unknown as TlsSpec;

  for (const mode of ['PERMISSIVE', 'STRICT']) {
    it(`${mode}: Mizzen's HTTP/1.1 and HTTP/2 pools reach the HTTP chain, TCP the TCP chain`, () => {
      const pa = `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: istio-system }\nspec: { mtls: { mode: ${mode} } }\n`;
      const res = generateAll(proxy({ ip: '10.244.2.1', labels: { app: 'web' } }), pushContext(pa, services, endpoints));
      const raw = res.listeners.find((l) => (l.resource as Obj).name === 'virtualInbound')!.resource as Obj;
      const c = codec();
      const { object } = protoJsonToObject(c.typeOfUrl(TYPE_URL.listener), raw);
      const listener = compileListener(c.decode(TYPE_URL.listener, c.encode(TYPE_URL.listener, object)) as Obj, { httpFilters: http, networkFilters: network });
      const select = (alpn: readonly string[]) => selectFilterChain(listener, { destinationIp: '10.244.2.1', destinationPort: 8080, serverName: '', transportProtocol: 'tls', applicationProtocols: alpn, sourceIp: '10.244.1.1', sourcePort: 40000 });
      const h1 = select(istioHttpAlpn(meshTls, 'istio-http/1.1')!.alpn);
      assert.equal(h1?.name, '0.0.0.0_8080');
      assert.equal(h1?.terminal.kind, 'http');
      const h2 = select(['istio-h2', 'h2', 'istio']);
      assert.equal(h2?.terminal.kind, 'http');
      const tcp = select(meshTls.alpn);
      assert.equal(tcp?.name, '0.0.0.0_8080');
      assert.equal(tcp?.terminal.kind, 'tcp');
      assert.equal(tcp?.metadataExchange, true);
    });
  }

  it('HTTP over mesh TLS offers Istio HTTP ALPN first and never istio-peer-exchange; other TLS is left alone', () => {
    assert.deepEqual(istioHttpAlpn(meshTls, 'istio-http/1.1')!.alpn, ['istio-http/1.1', 'istio']);
    const app = { key: 'a', alpn: ['h2', 'http/1.1'] } as unknown as TlsSpec;
    assert.equal(istioHttpAlpn(app, 'istio-http/1.1'), app);
    assert.equal(istioHttpAlpn(undefined, 'istio-http/1.1'), undefined);
  });
});
