import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { MeshConfigWatcher } from '../../src/control/config/mesh-config-watcher.ts';
import { defaultMeshConfig, parseMeshConfig, tryParseMeshConfig } from '../../src/control/config/mesh-config.ts';
import { MizzenError } from '../../src/lib/errors.ts';

function meshConfigMap(mesh: string, namespace = 'istio-system'): ConfigResource {
  const raw = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace }, data: { mesh } };
  return { apiVersion: 'v1', kind: 'ConfigMap', group: '', version: 'v1', metadata: { name: 'istio', namespace }, spec: { data: { mesh } }, raw };
}

describe('MeshConfig', () => {
  it('has Istio defaults', () => {
    const m = defaultMeshConfig();
    assert.equal(m.rootNamespace, 'istio-system');
    assert.equal(m.trustDomain, 'cluster.local');
    assert.equal(m.enableAutoMtls, true);
    assert.equal(m.outboundTrafficPolicy.mode, 'ALLOW_ANY');
    assert.equal(m.proxyListenPort, 15001);
    assert.equal(m.defaultConfig.discoveryAddress, 'istiod.istio-system.svc:15012');
    assert.deepEqual(m.defaultServiceExportTo, ['*']);
    assert.deepEqual(m.defaultVirtualServiceExportTo, ['*']);
    assert.deepEqual(m.defaultDestinationRuleExportTo, ['*']);
    assert.equal(m.accessLogFile, '');
    assert.equal(m.accessLogEncoding, 'TEXT');
    assert.equal(m.ingressClass, 'istio');
    assert.deepEqual(m.localityLbSetting, { enabled: true });
  });

  it('merges user fields over the defaults, nested mappings field by field', () => {
    const m = parseMeshConfig(`
accessLogFile: /dev/stdout
accessLogEncoding: JSON
trustDomain: example.org
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
defaultConfig:
  discoveryAddress: 127.0.0.1:15012
defaultServiceExportTo: ["."]
meshMTLS: {minProtocolVersion: TLSV1_3}
`);
    assert.equal(m.accessLogFile, '/dev/stdout');
    assert.equal(m.accessLogEncoding, 'JSON');
    assert.equal(m.trustDomain, 'example.org');
    assert.equal(m.rootNamespace, 'istio-system');
    assert.equal(m.outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
    assert.equal(m.defaultConfig.discoveryAddress, '127.0.0.1:15012');
    assert.equal(m.defaultConfig.proxyAdminPort, 15000);
    assert.deepEqual(m.defaultServiceExportTo, ['.']);
    assert.deepEqual(m.meshMTLS, { minProtocolVersion: 'TLSV1_3' });
  });

  it('rejects wrong types with the field path, and bad YAML with its line', () => {
    const r = tryParseMeshConfig('enableAutoMtls: "yes"\noutboundTrafficPolicy: {mode: SOMETIMES}\nproxyListenPort: 70000\n');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(r.errors.map((e) => e.path).sort(), ['enableAutoMtls', 'outboundTrafficPolicy.mode', 'proxyListenPort']);
    }
    const bad = tryParseMeshConfig('a: [\n');
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.errors[0].message, /invalid YAML/);
    assert.throws(() => parseMeshConfig('- 1\n', 'meshconfig.yaml'), (e: unknown) => e instanceof MizzenError && e.code === 'CONFIG_INVALID' && /meshconfig.yaml/.test(e.message));
  });

  it('an empty document means all defaults', () => {
    assert.deepEqual(parseMeshConfig(''), defaultMeshConfig());
  });
});

describe('MeshConfigWatcher', () => {
  it('layers defaults, meshconfig.yaml and ConfigMap istio in the root namespace', () => {
    const store = new ConfigStore();
    const w = new MeshConfigWatcher({ store });
    const seen: string[] = [];
    w.onChange((m) => seen.push(m.trustDomain));
    assert.equal(w.current().trustDomain, 'cluster.local');
    w.setFile('trustDomain: file.example\naccessLogFile: /dev/stdout\n', 'meshconfig.yaml');
    assert.equal(w.current().trustDomain, 'file.example');
    store.apply('file', [meshConfigMap('trustDomain: cm.example\n')]);
    assert.equal(w.current().trustDomain, 'cm.example');
    assert.equal(w.current().accessLogFile, '/dev/stdout');
    store.apply('file', [meshConfigMap('trustDomain: elsewhere\n', 'other')]);
    assert.equal(w.current().trustDomain, 'cm.example');
    assert.deepEqual(seen, ['file.example', 'cm.example']);
    w.close();
  });

  it('keeps the previous config when a layer becomes invalid and reports it', () => {
    const store = new ConfigStore();
    const w = new MeshConfigWatcher({ store });
    w.setFile('outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n', '/cfg/meshconfig.yaml');
    w.setFile('outboundTrafficPolicy: {mode: NOPE}\n', '/cfg/meshconfig.yaml');
    assert.equal(w.current().outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
    const [problem] = w.problems();
    assert.equal(problem.file, '/cfg/meshconfig.yaml');
    assert.equal(problem.path, 'outboundTrafficPolicy.mode');
    assert.match(problem.message, /previous mesh config kept/);
    w.setFile(undefined, '/cfg/meshconfig.yaml');
    assert.equal(w.current().outboundTrafficPolicy.mode, 'ALLOW_ANY');
    assert.deepEqual(w.problems(), []);
    w.close();
  });

  it('follows a rootNamespace moved by the file layer', () => {
    const store = new ConfigStore();
    store.apply('file', [meshConfigMap('ingressClass: custom\n', 'mesh-root')]);
    const w = new MeshConfigWatcher({ store });
    assert.equal(w.current().ingressClass, 'istio');
    w.setFile('rootNamespace: mesh-root\n', 'meshconfig.yaml');
    assert.equal(w.current().ingressClass, 'custom');
    w.close();
  });
});
