import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { buildRegistry } from '../../src/control/registry/build-registry.ts';
import { ISTIO } from './registry-helpers.ts';

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yamlFiles(p, out);
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

function load(paths: string[]): ConfigResource[] {
  return paths.flatMap((p) => parseDocuments(readFileSync(p, 'utf8'), p).resources);
}

describe('buildRegistry robustness', () => {
  it('never throws on any of Istio\'s samples and validation documents, valid or not', (t) => {
    const crds = `${ISTIO}/pkg/config/validation/testdata/crds`;
    const samples = `${ISTIO}/samples`;
    if (!existsSync(crds) || !existsSync(samples)) return t.skip('Istio test data not found under ../shared/istio');
    // The store normally holds only validated resources; here even invalid ones go in, one
    // store per file so duplicate names across files do not hide documents.
    let services = 0;
    for (const file of [...yamlFiles(crds), ...yamlFiles(samples)]) {
      const store = new ConfigStore();
      store.apply('test', load([file]));
      const reg = buildRegistry(store);
      for (const s of reg.services) {
        services++;
        for (const p of s.ports) assert.ok(Array.isArray(reg.endpoints(s.hostname, p.port, s.namespace)), file);
      }
    }
    assert.ok(services > 50, `expected many services, got ${services}`);
  });

  it('leaves out a resource it cannot use, records why, and keeps the rest', () => {
    const store = new ConfigStore();
    const parsed = parseDocuments(
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: broken, namespace: ns}
spec: {hosts: not-a-list, ports: 7}
---
apiVersion: v1
kind: Service
metadata: {name: also-broken, namespace: ns}
spec: {ports: {port: 80}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: fine, namespace: ns}
spec: {hosts: [fine.example.com], ports: [{name: http, number: 80, protocol: HTTP}], resolution: DNS}
`,
      'bad.yaml',
    );
    store.apply('test', parsed.resources);
    const reg = buildRegistry(store);
    assert.deepEqual(reg.services.map((s) => s.hostname), ['fine.example.com']);
    assert.deepEqual(reg.problems.map((p) => p.resource).sort(), ['Service ns/also-broken', 'ServiceEntry ns/broken']);
  });
});
