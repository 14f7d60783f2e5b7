import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { proxyShapeKey } from '../../src/control/push/shared-generation.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function hcms(p: ReturnType<typeof proxy>, mesh: Record<string, unknown> = {}): Json[] {
  const out: Json[] = [];
  for (const l of generateAll(p, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS, mesh)).listeners) {
    for (const c of (l.resource as Json).filterChains ?? []) for (const f of c.filters ?? []) if (f.name === 'envoy.filters.network.http_connection_manager') out.push(f.typedConfig);
  }
  return out;
}

const withMeta = (p: ReturnType<typeof proxy>, metadata: Record<string, string>) => ({ ...p, metadata: { ...p.metadata, ...metadata } });
const sidecar = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
const gateway = proxy({ type: 'router', namespace: 'istio-system', ip: '10.244.0.50', labels: { istio: 'ingressgateway' }, pod: 'gw-0' });

describe('HCM settings istiod takes from the mesh and the proxy', () => {
  it('normalizes paths on every sidecar and gateway HCM (BASE unless meshConfig says otherwise)', () => {
    for (const p of [sidecar, gateway]) {
      const base = hcms(p);
      assert.ok(base.length > 0);
      for (const h of base) assert.deepEqual([h.normalizePath, h.mergeSlashes, h.pathWithEscapedSlashesAction], [true, undefined, 'KEEP_UNCHANGED']);
      for (const h of hcms(p, { pathNormalization: { normalization: 'DECODE_AND_MERGE_SLASHES' } })) {
        assert.deepEqual([h.normalizePath, h.mergeSlashes, h.pathWithEscapedSlashesAction], [true, true, 'UNESCAPE_AND_FORWARD']);
      }
    }
  });

  it('accepts HTTP/1.0 only for proxies with metadata HTTP10=1 (ISTIO_META_HTTP10), as istiod', () => {
    for (const p of [sidecar, gateway]) {
      // istiod writes empty HTTP/1 options on gateways
      const off = p === gateway ? {} : undefined;
      for (const h of hcms(p)) assert.deepEqual(h.httpProtocolOptions, off);
      const on = hcms(withMeta(p, { HTTP10: '1' }));
      assert.ok(on.length > 0);
      for (const h of on) assert.deepEqual(h.httpProtocolOptions, { acceptHttp10: true });
      for (const h of hcms(withMeta(p, { HTTP10: 'true' }))) assert.deepEqual(h.httpProtocolOptions, off);
    }
    // shared generation must not hand one proxy's listeners to the other
    assert.notEqual(proxyShapeKey(sidecar, TYPE_URL.listener), proxyShapeKey(withMeta(sidecar, { HTTP10: '1' }), TYPE_URL.listener));
    assert.equal(proxyShapeKey(sidecar, TYPE_URL.route), proxyShapeKey(withMeta(sidecar, { HTTP10: '1' }), TYPE_URL.route));
  });

  it("gateways as istiod: the edge's HCM (remote address, XFCC SANITIZE_SET, server name), 15 s TLS handshakes, route configs ignoring Host ports, no PassthroughCluster", () => {
    const gw = hcms(gateway);
    assert.ok(gw.length > 0);
    for (const h of gw) {
      assert.equal(h.useRemoteAddress, true);
      assert.equal(h.forwardClientCertDetails, 'SANITIZE_SET');
      assert.deepEqual(h.setCurrentClientCertDetails, { subject: true, cert: true, dns: true, uri: true });
      assert.equal(h.serverName, 'istio-envoy');
    }
    for (const h of hcms(sidecar)) if (h.statPrefix.startsWith('outbound_')) assert.equal(h.useRemoteAddress, false, 'sidecars are not the edge');
    const all = generateAll(gateway, pushContext(RICH_CONFIG, RICH_SERVICES, RICH_ENDPOINTS));
    for (const l of all.listeners) for (const c of (l.resource as Json).filterChains) assert.equal(c.transportSocketConnectTimeout, '15s');
    for (const r of all.routes) {
      assert.equal((r.resource as Json).ignorePortInHostMatching, true);
      assert.equal((r.resource as Json).maxDirectResponseBodySizeBytes, 1048576);
    }
    const clusters = all.clusters.map((c) => c.name);
    assert.ok(clusters.includes('BlackHoleCluster') && !clusters.includes('PassthroughCluster'));
  });

  it('clusters of sniffed ports follow the downstream HTTP version on sidecars (not on gateways), as istiod', () => {
    const services = [...RICH_SERVICES, { name: 'legacy', vip: '10.96.7.7', ports: [{ port: 7000, protocol: 'UNSUPPORTED' }] }];
    const cluster = (p: ReturnType<typeof proxy>): Json => generateAll(p, pushContext(RICH_CONFIG, services as never, RICH_ENDPOINTS)).clusters.find((c) => c.name === 'outbound|7000||legacy.default.svc.cluster.local')!.resource as Json;
    const opts = cluster(sidecar).typedExtensionProtocolOptions['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.deepEqual(opts.useDownstreamProtocolConfig, { httpProtocolOptions: {}, http2ProtocolOptions: {} });
    assert.equal(cluster(gateway).typedExtensionProtocolOptions, undefined);
  });
});
