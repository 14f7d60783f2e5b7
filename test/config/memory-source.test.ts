import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { MemorySource } from '../../src/control/config/sources/memory-source.ts';
import type { ResourceValidator } from '../../src/control/config/sources/resource-validator.ts';

/** Test validator standing in for the real one (injected in the product): hosts must be non-empty. */
const validate: ResourceValidator = (r: ConfigResource) => {
  const hosts = (r.spec as { hosts?: unknown }).hosts;
  if (r.kind !== 'VirtualService' || (Array.isArray(hosts) && hosts.length > 0)) return { errors: [], warnings: [] };
  return { errors: [{ path: 'spec.hosts', message: 'at least one host is required' }], warnings: [] };
};

const vs = (name: string, hosts: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec: {hosts: ${hosts}}
`;

describe('MemorySource', () => {
  it('applies valid text and reports the changes', () => {
    const store = new ConfigStore();
    const source = new MemorySource({ store, validate });
    const result = source.applyText(vs('a', '[a]') + '---\n' + vs('b', '[b]'), 'input.yaml');
    assert.equal(result.ok, true);
    assert.equal(result.changes.length, 2);
    assert.equal(store.list('VirtualService').length, 2);
  });

  it('changes nothing when any resource of the batch is invalid, keeping the last valid version', () => {
    const store = new ConfigStore();
    const source = new MemorySource({ store, validate });
    source.applyText(vs('a', '[a]'));
    const result = source.applyText(vs('a', '[]') + '---\n' + vs('b', '[b]'), 'bad.yaml');
    assert.equal(result.ok, false);
    assert.deepEqual(result.changes, []);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].resource, 'VirtualService default/a');
    assert.equal(result.errors[0].path, 'spec.hosts');
    assert.equal(result.errors[0].file, 'bad.yaml');
    assert.deepEqual(store.get('VirtualService', 'default', 'a')?.spec, { hosts: ['a'] });
    assert.equal(store.get('VirtualService', 'default', 'b'), undefined);
  });

  it('rejects unparseable text with file and line, and skips unknown kinds with a warning', () => {
    const store = new ConfigStore();
    const source = new MemorySource({ store, validate });
    const bad = source.applyText('kind: [\n', 'broken.yaml');
    assert.equal(bad.ok, false);
    assert.equal(bad.errors[0].file, 'broken.yaml');
    assert.ok(bad.errors[0].line! >= 1);
    const unknown = source.applyText('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n');
    assert.equal(unknown.ok, true);
    assert.equal(unknown.warnings.length, 1);
    assert.match(unknown.warnings[0].message, /unknown kind/);
    assert.equal(store.all().length, 0);
  });

  it('deletes what it holds and reports what it does not', () => {
    const store = new ConfigStore();
    const source = new MemorySource({ store, validate });
    source.applyText(vs('a', '[a]'));
    const [a] = store.list('VirtualService');
    const missing = { ...a, metadata: { ...a.metadata, name: 'nope' } };
    const result = source.delete([a, missing]);
    assert.equal(result.changes.length, 1);
    assert.deepEqual(result.notFound, ['VirtualService default/nope']);
    assert.equal(store.all().length, 0);
  });

  it('replaceAll makes the source hold exactly the given set', () => {
    const store = new ConfigStore();
    const source = new MemorySource({ store, validate });
    source.applyText(vs('a', '[a]') + '---\n' + vs('b', '[b]'));
    const result = source.replaceAll(parseDocuments(vs('c', '[c]'), 'c.yaml').resources);
    assert.equal(result.ok, true);
    assert.deepEqual(store.list('VirtualService').map((r) => r.metadata.name), ['c']);
  });
});
