import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { ConfigChange } from '../../src/control/config/config-store-reader.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';

function vs(name: string, host: string, namespace?: string): ConfigResource {
  const metadata = namespace ? { name, namespace } : { name };
  const raw = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata, spec: { hosts: [host] } };
  return { apiVersion: raw.apiVersion, kind: raw.kind, group: 'networking.istio.io', version: 'v1', metadata: { ...metadata }, spec: { hosts: [host] }, raw };
}

function ns(name: string): ConfigResource {
  const raw = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
  return { apiVersion: 'v1', kind: 'Namespace', group: '', version: 'v1', metadata: { name }, spec: {}, raw };
}

describe('ConfigStore', () => {
  it("lists a known kind only from its own API group (regression: a foreign `Gateway` reached Istio's gateway generator)", () => {
    const store = new ConfigStore();
    const gw = (group: string, spec: Record<string, unknown>): ConfigResource => {
      const metadata = { name: 'gw', namespace: 'istio-system' };
      const raw = { apiVersion: `${group}/v1`, kind: 'Gateway', metadata, spec };
      return { apiVersion: raw.apiVersion, kind: 'Gateway', group, version: 'v1', metadata: { ...metadata }, spec, raw };
    };
    store.apply('memory', [gw('networking.istio.io', { servers: [] }), gw('gateway.networking.k8s.io', { listeners: [] }), gw('netrking.istio.io', { servers: [{ hosts: 'x' }] })]);
    assert.deepEqual(store.list('Gateway').map((r) => r.group), ['networking.istio.io']);
    assert.equal(store.get('Gateway', 'istio-system', 'gw')?.group, 'networking.istio.io');
    assert.equal(store.list('KubernetesGateway').length, 1);
    assert.equal(store.list('netrking.istio.io/Gateway').length, 1);
    assert.equal(store.all().length, 3);
    store.delete('memory', [gw('netrking.istio.io', {})]);
    assert.equal(store.all().length, 2);
    assert.equal(store.list('Gateway').length, 1);
  });

  it('creates, updates and deletes with change events carrying old and new', () => {
    const store = new ConfigStore();
    const seen: ConfigChange[][] = [];
    store.subscribe((c) => seen.push([...c]));
    store.apply('memory', [vs('a', 'x', 'ns1')]);
    store.apply('memory', [vs('a', 'y', 'ns1')]);
    store.delete('memory', [vs('a', 'y', 'ns1')]);
    assert.equal(seen.length, 3);
    assert.equal(seen[0][0].old, undefined);
    assert.deepEqual(seen[0][0].new?.spec, { hosts: ['x'] });
    assert.deepEqual(seen[1][0].old?.spec, { hosts: ['x'] });
    assert.deepEqual(seen[1][0].new?.spec, { hosts: ['y'] });
    assert.equal(seen[2][0].new, undefined);
    assert.equal(seen[2][0].kind, 'VirtualService');
    assert.equal(seen[2][0].namespace, 'ns1');
    assert.equal(store.list('VirtualService').length, 0);
    assert.equal(store.revision(), 3);
  });

  it('emits nothing and keeps the revision for unchanged content', () => {
    const store = new ConfigStore();
    store.apply('memory', [vs('a', 'x', 'ns1')]);
    let events = 0;
    store.subscribe(() => events++);
    assert.deepEqual(store.apply('memory', [vs('a', 'x', 'ns1')]), []);
    assert.equal(events, 0);
    assert.equal(store.revision(), 1);
  });

  it('defaults the namespace of namespaced kinds and leaves cluster-scoped kinds without one', () => {
    const store = new ConfigStore();
    store.apply('memory', [vs('a', 'x'), ns('istio-system')]);
    assert.equal(store.get('VirtualService', 'default', 'a')?.metadata.namespace, 'default');
    assert.equal(store.get('VirtualService', undefined, 'a')?.metadata.name, 'a');
    assert.equal(store.get('Namespace', undefined, 'istio-system')?.metadata.namespace, undefined);
  });

  it('lists in namespace then name order, per namespace and across kinds', () => {
    const store = new ConfigStore();
    store.apply('memory', [vs('b', 'x', 'ns2'), vs('z', 'x', 'ns1'), vs('a', 'x', 'ns2'), ns('ns1')]);
    assert.deepEqual(store.list('VirtualService').map((r) => `${r.metadata.namespace}/${r.metadata.name}`), ['ns1/z', 'ns2/a', 'ns2/b']);
    assert.deepEqual(store.list('VirtualService', 'ns2').map((r) => r.metadata.name), ['a', 'b']);
    assert.equal(store.all().length, 4);
  });

  it('replaces a source set with a diff: create, update, delete, untouched', () => {
    const store = new ConfigStore();
    store.replaceSource('file', [vs('keep', 'x', 'n'), vs('edit', 'x', 'n'), vs('gone', 'x', 'n')]);
    const seen: ConfigChange[] = [];
    store.subscribe((c) => seen.push(...c));
    store.replaceSource('file', [vs('keep', 'x', 'n'), vs('edit', 'y', 'n'), vs('new', 'x', 'n')]);
    const summary = seen.map((c) => `${c.name}:${c.old ? 'old' : '-'}:${c.new ? 'new' : '-'}`).sort();
    assert.deepEqual(summary, ['edit:old:new', 'gone:old:-', 'new:-:new']);
    assert.deepEqual(store.sourceKeys('file'), ['networking.istio.io/VirtualService/n/edit', 'networking.istio.io/VirtualService/n/keep', 'networking.istio.io/VirtualService/n/new']);
  });

  it('serves the newest write among sources and falls back when it is removed', () => {
    const store = new ConfigStore();
    store.apply('file', [vs('a', 'from-file', 'n')]);
    store.apply('memory', [vs('a', 'from-memory', 'n')]);
    assert.deepEqual(store.get('VirtualService', 'n', 'a')?.spec, { hosts: ['from-memory'] });
    const seen: ConfigChange[] = [];
    store.subscribe((c) => seen.push(...c));
    store.delete('memory', [vs('a', '', 'n')]);
    assert.deepEqual(store.get('VirtualService', 'n', 'a')?.spec, { hosts: ['from-file'] });
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0].new?.spec, { hosts: ['from-file'] });
    store.replaceSource('file', []);
    assert.equal(store.get('VirtualService', 'n', 'a'), undefined);
  });

  it('keeps serving when a listener throws', () => {
    const store = new ConfigStore();
    store.subscribe(() => {
      throw new Error('boom');
    });
    let called = 0;
    store.subscribe(() => called++);
    store.apply('memory', [vs('a', 'x', 'n')]);
    assert.equal(called, 1);
    assert.equal(store.list('VirtualService').length, 1);
  });
});

describe('ConfigStore identity', () => {
  it('keeps the same object for re-applied identical content, so readers can cache by identity', () => {
    const store = new ConfigStore();
    store.apply('file', [vs('a', 'x', 'n')]);
    const first = store.get('VirtualService', 'n', 'a');
    store.replaceSource('file', [vs('a', 'x', 'n')]);
    assert.equal(store.get('VirtualService', 'n', 'a'), first);
    store.replaceSource('file', [vs('a', 'y', 'n')]);
    assert.notEqual(store.get('VirtualService', 'n', 'a'), first);
  });
});

describe('ConfigStore lists', () => {
  it('never mutates a list it returned, even when an update keeps the order', () => {
    const store = new ConfigStore();
    store.apply('file', [vs('a', 'x', 'n'), vs('b', 'x', 'n')]);
    const before = store.list('VirtualService');
    store.apply('file', [vs('b', 'y', 'n')]);
    store.apply('file', [vs('a', 'y', 'n')]);
    const after = store.list('VirtualService');
    assert.deepEqual(before.map((r) => r.spec), [{ hosts: ['x'] }, { hosts: ['x'] }]);
    assert.deepEqual(after.map((r) => r.spec), [{ hosts: ['y'] }, { hosts: ['y'] }]);
    assert.equal(store.list('VirtualService'), after);
  });
});
