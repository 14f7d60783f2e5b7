import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext, simulator } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

type Obj = Record<string, any>;
const MX_URL = 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange';

describe('TCP metadata exchange in generated config', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);

  it('puts istio.metadata_exchange first on inbound TCP chains, which offer ALPN istio-peer-exchange', () => {
    const db = simulator(proxy({ ip: '10.244.0.14', labels: { app: 'mongodb' } }), push);
    const chain = db.listener('virtualInbound')!.filterChains.find((c: Obj) => c.name === '0.0.0.0_27017' && c.transportSocket) as Obj;
    assert.equal(chain.filters[0].name, 'istio.metadata_exchange');
    assert.equal(chain.filters[0].typedConfig.typeUrl, MX_URL);
    assert.deepEqual(chain.filters[0].typedConfig.value, { enable_discovery: true, protocol: 'istio-peer-exchange' });
    assert.equal(chain.filters.at(-1).name, 'envoy.filters.network.tcp_proxy');
    assert.deepEqual(chain.transportSocket.typedConfig.commonTlsContext.alpnProtocols, ['istio-peer-exchange', 'h2', 'http/1.1']);
  });

  it('lets inbound HTTP chains settle on istio rather than istio-peer-exchange (server-preferred order)', () => {
    const reviews = simulator(proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' }), push);
    const chain = reviews.listener('virtualInbound')!.filterChains.find((c: Obj) => c.name === '0.0.0.0_9080' && c.transportSocket) as Obj;
    const alpn = chain.transportSocket.typedConfig.commonTlsContext.alpnProtocols as string[];
    assert.ok(alpn.indexOf('istio') < alpn.indexOf('istio-peer-exchange'), alpn.join(','));
    // as istiod, the exchange filter sits before the HCM; it only acts when istio-peer-exchange is negotiated
    assert.equal(chain.filters[0].typedConfig.typeUrl, MX_URL);
  });

  it('gives mesh mTLS outbound clusters the upstream exchange filter and external ones none', () => {
    const sim = simulator(proxy({}), push);
    const ratings = sim.cluster('outbound|9080||ratings.default.svc.cluster.local')! as Obj;
    assert.deepEqual(ratings.filters.map((f: Obj) => [f.name, f.typedConfig.typeUrl]), [['istio.metadata_exchange', MX_URL]]);
    const ts = ratings.transportSocketMatches?.[0].transportSocket ?? ratings.transportSocket;
    assert.deepEqual(ts.typedConfig.commonTlsContext.alpnProtocols, ['istio-peer-exchange', 'istio']);
    assert.equal((sim.cluster('outbound|80||httpbin.org') as Obj).filters, undefined);
  });
});
