import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { discoveryEnvoyDescriptor, loadDiscoveryEnvoyRoot, loadProxyEnvoyRoot, PROXY_ENVOY_FILES, proxyEnvoyDescriptor } from '../../src/api/xds/proxy-envoy-root.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { EnvoyCodec } from '../../src/data/xds-client/envoy-codec.ts';
import { address, DOWNSTREAM_TLS, hcm, route, routeConfig, staticCluster, tcpProxy, UPSTREAM_TLS, vhost } from './support/envoy-builders.ts';

const dir = mkdtempSync(join(tmpdir(), 'mizzen-proxy-root-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function typeNames(root: protobuf.NamespaceBase, out = new Set<string>()): Set<string> {
  for (const o of root.nestedArray) {
    if (o instanceof protobuf.Type || o instanceof protobuf.Enum) out.add(o.fullName);
    if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) typeNames(o, out);
  }
  return out;
}

describe('the proxy Envoy root (pruned descriptor)', () => {
  const full = loadEnvoyRoot();
  const cacheFile = join(dir, 'proxy-root.json');
  const pruned = loadProxyEnvoyRoot(cacheFile);

  it('keeps every type defined in the proxy files and everything they reference, and drops admin/CSDS', () => {
    const names = typeNames(pruned);
    const wanted = [...typeNames(full)].filter((n) => {
      const f = full.lookup(n)?.filename ?? '';
      return PROXY_ENVOY_FILES.some((p) => f.endsWith(p));
    });
    assert.ok(wanted.length > 100);
    for (const n of wanted) assert.ok(names.has(n), `${n} kept`);
    for (const n of ['.google.protobuf.StringValue', '.google.protobuf.Struct', '.envoy.config.core.v3.Address']) assert.ok(names.has(n), `${n} kept`);
    assert.ok(!names.has('.envoy.admin.v3.ConfigDump'));
    assert.ok(!names.has('.envoy.config.bootstrap.v3.Bootstrap'));
    assert.ok(names.size < typeNames(full).size);
  });

  it('decodes xDS resources (with their typed configs) exactly as the full root does', () => {
    const enc = new EnvoyCodec(full);
    const a = new EnvoyCodec(full);
    const b = new EnvoyCodec(pruned);
    const resources: [string, Record<string, unknown>][] = [
      [TYPE_URL.listener, { name: 'l', address: address('127.0.0.1', 80), filterChains: [{ transportSocket: { name: 'tls', typedConfig: { '@type': DOWNSTREAM_TLS, requireClientCertificate: { value: true }, commonTlsContext: { alpnProtocols: ['istio'] } } }, filters: [hcm('r')] }, { filters: [tcpProxy('c')] }] }],
      [TYPE_URL.cluster, staticCluster('c', [['127.0.0.1', 1]], { transportSocket: { name: 'tls', typedConfig: { '@type': UPSTREAM_TLS, commonTlsContext: { alpnProtocols: ['istio'] } } } })],
      [TYPE_URL.route, routeConfig('r', [vhost('v', ['*'], [route({ prefix: '/' }, { cluster: 'c', timeout: { seconds: 3 } })])])],
      [TYPE_URL.secret, { name: 's', validationContext: { trustedCa: { inlineString: 'pem' } } }],
    ];
    for (const [typeUrl, r] of resources) {
      const bytes = enc.encode(typeUrl, r);
      assert.deepEqual(b.decode(typeUrl, bytes), a.decode(typeUrl, bytes), typeUrl);
    }
  });

  it('treats an Any of a type it does not hold as the full root treats unknown types (left undecoded)', () => {
    const b = new EnvoyCodec(pruned);
    const a = new EnvoyCodec(full);
    const unknown = { name: 'l', filterChains: [{ filters: [{ name: 'x', typedConfig: { typeUrl: 'type.googleapis.com/example.Unknown', value: Buffer.from([8, 1]) } }] }] };
    const bytes = a.encode(TYPE_URL.listener, unknown);
    const got = b.decode(TYPE_URL.listener, bytes) as { filterChains: { filters: { typedConfig: Record<string, unknown> }[] }[] };
    assert.deepEqual(got, a.decode(TYPE_URL.listener, bytes));
    assert.equal(got.filterChains[0].filters[0].typedConfig['@type'], undefined);
  });

  it('caches the descriptor and rebuilds it when the cache key does not match', () => {
    assert.equal(proxyEnvoyDescriptor(cacheFile).built, false);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string };
    writeFileSync(cacheFile, JSON.stringify({ ...cached, key: 'stale' }));
    assert.equal(proxyEnvoyDescriptor(cacheFile).built, true);
    assert.equal(proxyEnvoyDescriptor(cacheFile).built, false);
    writeFileSync(cacheFile, 'not json');
    assert.equal(proxyEnvoyDescriptor(cacheFile).built, true);
  });

  it('works without a writable cache', () => {
    const r = proxyEnvoyDescriptor(join(dir, 'missing-dir-file', '\0bad'));
    assert.equal(r.built, true);
    assert.ok(protobuf.Root.fromJSON(r.descriptor).lookupType('envoy.config.cluster.v3.Cluster'));
  });
});

describe("the workload-API client's Envoy root (discovery messages only: ztunnel, the waypoint's peers)", () => {
  const full = loadEnvoyRoot();
  const proxyCache = join(dir, 'proxy-root-for-discovery.json');
  const cacheFile = join(dir, 'discovery-root.json');
  const small = loadDiscoveryEnvoyRoot(cacheFile, proxyCache);

  it('holds the delta discovery messages and what they reference, not the xDS resources', () => {
    const names = typeNames(small);
    for (const n of ['.envoy.service.discovery.v3.DeltaDiscoveryRequest', '.envoy.service.discovery.v3.DeltaDiscoveryResponse', '.envoy.service.discovery.v3.Resource', '.envoy.config.core.v3.Node', '.google.rpc.Status', '.google.protobuf.Any', '.google.protobuf.Struct']) assert.ok(names.has(n), `${n} kept`);
    for (const n of ['.envoy.config.cluster.v3.Cluster', '.envoy.config.listener.v3.Listener', '.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext']) assert.ok(!names.has(n), `${n} dropped`);
    assert.ok(names.size * 10 < typeNames(loadProxyEnvoyRoot(proxyCache)).size, `${names.size} types`);
  });

  it('encodes and decodes requests and responses byte for byte as the full root', () => {
    const pairs: [string, Record<string, unknown>][] = [
      ['envoy.service.discovery.v3.DeltaDiscoveryRequest', { node: { id: 'ztunnel~10.0.0.1~z.istio-system~istio-system.svc.cluster.local', metadata: { fields: { NODE_NAME: { stringValue: 'node-a' } } } }, typeUrl: 'type.googleapis.com/istio.workload.Address', resourceNamesSubscribe: ['10.0.0.2'], responseNonce: 'n1', errorDetail: { code: 3, message: 'bad' }, initialResourceVersions: { a: '1' } }],
      ['envoy.service.discovery.v3.DeltaDiscoveryResponse', { systemVersionInfo: 'v', typeUrl: 'type.googleapis.com/istio.workload.Address', nonce: 'n2', removedResources: ['x'], resources: [{ name: 'default/w', version: '3', aliases: ['10.0.0.2'], resource: { typeUrl: 'type.googleapis.com/istio.workload.Address', value: Buffer.from([10, 2, 8, 1]) } }] }],
    ];
    for (const [name, msg] of pairs) {
      const a = full.lookupType(name);
      const b = small.lookupType(name);
      const bytes = Buffer.from(a.encode(a.fromObject(msg)).finish());
      assert.deepEqual(Buffer.from(b.encode(b.fromObject(msg)).finish()), bytes, name);
      assert.deepEqual(b.toObject(b.decode(bytes), { longs: String, bytes: Buffer }), a.toObject(a.decode(bytes), { longs: String, bytes: Buffer }), name);
    }
  });

  it('is cached beside the proxy descriptor and rebuilt when stale', () => {
    assert.equal(discoveryEnvoyDescriptor(cacheFile, proxyCache).built, false);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string };
    writeFileSync(cacheFile, JSON.stringify({ ...cached, key: 'stale' }));
    assert.equal(discoveryEnvoyDescriptor(cacheFile, proxyCache).built, true);
    assert.equal(discoveryEnvoyDescriptor(cacheFile, proxyCache).built, false);
  });
});
