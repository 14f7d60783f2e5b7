import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';

function spec(yamlSpec: string): unknown {
  const parsed = parseDocuments(`apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: b}\nspec:\n${yamlSpec}`, 'se.yaml');
  assert.deepEqual(parsed.problems, []);
  return parsed.resources[0]?.spec;
}

describe('restoreFlowColonScalars', () => {
  it('reads an IPv6 address ending in "::" inside a flow sequence as a string, as Kubernetes does', () => {
    assert.deepEqual(spec('  addresses: [1.2.3.4, 001:db8::]\n  hosts: [fe80::, "2001:db8::", 2001:db8::1]\n'), {
      addresses: ['1.2.3.4', '001:db8::'],
      hosts: ['fe80::', '2001:db8::', '2001:db8::1'],
    });
  });

  it('keeps real mappings in flow sequences: braces, "key: value" and "key: " with a space', () => {
    assert.deepEqual(spec('  a: [{k: v}, {q:}, r: s, t: ]\n  b: {c: d}\n'), { a: [{ k: 'v' }, { q: null }, { r: 's' }, { t: null }], b: { c: 'd' } });
  });
});
