import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protoJsonToObject } from '../../src/api/xds/proto-json.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { compileRouteTable } from '../../src/data/l7/route-table.ts';
import { HeaderList } from '../../src/data/http1/header-list.ts';
import { compileListener } from '../../src/data/listener/listener-config.ts';
import { compileCluster } from '../../src/data/upstream/cluster-config.ts';
import { compileEndpoints } from '../../src/data/upstream/endpoint-config.ts';
import { ResourceRejection } from '../../src/data/xds-client/resource-rejection.ts';
import { createFaultFilter, FAULT_FILTER_TYPE } from '../../src/data/l7/fault-filter.ts';
import { CORS_FILTER_TYPE, createCorsFilter } from '../../src/data/l7/cors-filter.ts';
import { HttpFilterRegistry } from '../../src/data/l7/http-filter.ts';
import { NetworkFilterRegistry } from '../../src/data/listener/network-filter.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from '../generate/rich-mesh.ts';
import { codec } from './support/proxy-harness.ts';

type Obj = Record<string, unknown>;

/**
 * Cross-plane check: what discovery generates (test/support/generate-fixture.ts) goes through the
 * wire encoding and the proxy's compilers; anything the proxy would NACK is listed.
 */
describe('proxy accepts what discovery generates', () => {
  const push = pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS);
  const cases = [
    ['sidecar', proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews' })],
    ['router', proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' })],
    ['sidecar accepting HTTP/1.0 (ISTIO_META_HTTP10)', { ...proxy({ ip: '10.244.0.12', labels: { app: 'ratings' }, serviceAccount: 'ratings' }), metadata: { HTTP10: '1' } }],
  ] as const;
  const http = new HttpFilterRegistry().register(FAULT_FILTER_TYPE, createFaultFilter).register(CORS_FILTER_TYPE, createCorsFilter);
  for (const n of ['istio.metadata_exchange', 'istio.stats', 'istio.alpn', 'envoy.filters.http.grpc_stats']) http.ignoreName(n);
  const network = new NetworkFilterRegistry().ignoreName('istio.metadata_exchange').ignoreName('istio.stats');
  // RBAC and JWT are enforced by filters another component registers; accept them here.
  http.register('envoy.extensions.filters.http.rbac.v3.RBAC', (name) => ({ name }));
  http.register('envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication', (name) => ({ name }));
  network.register('envoy.extensions.filters.network.rbac.v3.RBAC', (name) => ({ name, onConnection: () => true }));

  for (const [label, p] of cases) {
    it(`compiles every generated resource for a ${label}`, () => {
      const res = generateAll(p, push);
      const c = codec();
      const problems: string[] = [];
      const check = (typeUrl: string, list: readonly { resource: Obj }[], compile: (o: Obj) => unknown): void => {
        for (const r of list) {
          const { object } = protoJsonToObject(c.typeOfUrl(typeUrl), r.resource);
          const decoded = c.decode(typeUrl, c.encode(typeUrl, object));
          try {
            compile(decoded);
          } catch (err) {
            if (err instanceof ResourceRejection) problems.push(err.message);
            else throw err;
          }
        }
      };
      check(TYPE_URL.cluster, res.clusters, compileCluster);
      check(TYPE_URL.endpoint, res.endpoints, (o) => compileEndpoints(o, 'ClusterLoadAssignment'));
      check(TYPE_URL.listener, res.listeners, (o) => compileListener(o, { httpFilters: http, networkFilters: network }));
      check(TYPE_URL.route, res.routes, compileRouteTable);
      assert.deepEqual(problems, []);
    });
  }

  it('carries accept_http_10 through the wire encoding to what the proxy reads', () => {
    const c = codec();
    const res = generateAll(cases[2][1], push);
    const raw = res.listeners.find((l) => (l.resource as Obj).name === 'virtualInbound')!.resource as Obj;
    const { object } = protoJsonToObject(c.typeOfUrl(TYPE_URL.listener), raw);
    const decoded = c.decode(TYPE_URL.listener, c.encode(TYPE_URL.listener, object)) as { filterChains: { filters: { name: string; typedConfig: Obj }[] }[] };
    const hcms = decoded.filterChains.flatMap((fc) => fc.filters).filter((f) => f.name === 'envoy.filters.network.http_connection_manager');
    assert.ok(hcms.length > 0);
    for (const h of hcms) assert.equal((h.typedConfig.httpProtocolOptions as Obj).acceptHttp_10, true);
  });

  it("selects a sidecar's virtual host by name with any port: route configs ignore the port in host matching", () => {
    const res = generateAll(cases[0][1], push);
    const c = codec();
    const raw = res.routes.find((r) => (r.resource as Obj).name === '9080')!.resource as Obj;
    assert.equal(raw.ignorePortInHostMatching, true);
    const vhosts = raw.virtualHosts as { name: string; domains: string[] }[];
    const domains = vhosts.flatMap((v) => v.domains);
    assert.ok(domains.every((d) => d === '*' || !/:\d+$/.test(d)), `no :PORT domains: ${domains.filter((d) => /:\d+$/.test(d)).join(', ')}`);
    const { object } = protoJsonToObject(c.typeOfUrl(TYPE_URL.route), raw);
    const table = compileRouteTable(c.decode(TYPE_URL.route, c.encode(TYPE_URL.route, object)) as Obj);
    const ratings = 'ratings.default.svc.cluster.local:9080';
    for (const host of ['ratings', 'ratings:9080', 'ratings:80', 'ratings.default.svc.cluster.local:9080', 'RATINGS.default:9080']) {
      assert.equal(table.selectVirtualHost(host)?.name, ratings, host);
    }
    assert.equal(table.selectVirtualHost('[fd00::1]')?.name, 'allow_any', 'an IPv6 literal without a port keeps its colons');
    const details = table.route({ authority: 'details', path: '/', method: 'GET', scheme: 'http', headers: new HeaderList() });
    assert.equal((details?.action as { retry?: { otherHost: boolean } }).retry?.otherHost, true, "Istio's default retry policy: another host on retry");
  });
});
