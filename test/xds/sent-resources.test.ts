import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SentResources } from '../../src/control/xds/sent-resources.ts';
import { encodeResourceSet } from '../../src/control/xds/response-encoding.ts';
import type { EncodedResource } from '../../src/control/xds/resource-encoder.ts';

const r = (name: string, version: string): EncodedResource => ({ name, version, typeUrl: 't', value: new Uint8Array([1]) });

describe('SentResources', () => {
  it('layers per-proxy updates and removals over a shared set', () => {
    const shared = encodeResourceSet('t', [r('a', '1'), r('b', '1'), r('c', '1')]);
    const s = new SentResources();
    s.replace(shared);
    assert.equal(s.size, 3);
    s.set(r('b', '2'));
    s.set(r('d', '1'));
    s.delete('c');
    assert.equal(s.get('b')!.version, '2');
    assert.equal(s.get('c'), undefined);
    assert.deepEqual(s.keys().sort(), ['a', 'b', 'd']);
    assert.equal(s.size, 3);
    s.set(r('c', '3'));
    assert.equal(s.size, 4);
    s.replace(shared);
    assert.deepEqual(s.values().map((x) => `${x.name}${x.version}`), ['a1', 'b1', 'c1']);
    const other = new SentResources();
    other.replace(shared);
    assert.equal(other.get('a'), s.get('a'), 'the index is shared');
  });

  it('names the exact set the client has until a per-stream change', () => {
    const shared = encodeResourceSet('t', [r('a', '1')]);
    const s = new SentResources();
    assert.equal(s.exactSet, undefined);
    s.replace(shared);
    assert.equal(s.exactSet, shared);
    s.set(r('a', '2'));
    assert.equal(s.exactSet, undefined);
    s.replace(shared);
    s.delete('a');
    assert.equal(s.exactSet, undefined);
  });
});
