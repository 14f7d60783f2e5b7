import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideInjection } from '../../src/runtime/sidecar-injection.ts';

const base = { namespace: 'default', namespaceLabels: {}, podLabels: {}, podAnnotations: {} };

describe('decideInjection', () => {
  it('injects in a namespace labelled istio-injection=enabled', () => {
    assert.equal(decideInjection({ ...base, namespaceLabels: { 'istio-injection': 'enabled' } }).inject, true);
  });

  it('lets a pod opt out with sidecar.istio.io/inject=false (label or annotation)', () => {
    const ns = { 'istio-injection': 'enabled' };
    assert.equal(decideInjection({ ...base, namespaceLabels: ns, podLabels: { 'sidecar.istio.io/inject': 'false' } }).inject, false);
    assert.equal(decideInjection({ ...base, namespaceLabels: ns, podAnnotations: { 'sidecar.istio.io/inject': 'false' } }).inject, false);
  });

  it('injects a pod labelled sidecar.istio.io/inject=true in an unlabelled namespace, not one with only the annotation', () => {
    assert.equal(decideInjection({ ...base, podLabels: { 'sidecar.istio.io/inject': 'true' } }).inject, true);
    assert.equal(decideInjection({ ...base, podAnnotations: { 'sidecar.istio.io/inject': 'true' } }).inject, false);
    assert.equal(decideInjection(base).inject, false);
  });

  it('never injects with istio-injection=disabled, in kube-system, or for hostNetwork pods', () => {
    assert.equal(decideInjection({ ...base, namespaceLabels: { 'istio-injection': 'disabled' }, podLabels: { 'sidecar.istio.io/inject': 'true' } }).inject, false);
    assert.equal(decideInjection({ ...base, namespace: 'kube-system', podLabels: { 'sidecar.istio.io/inject': 'true' } }).inject, false);
    assert.equal(decideInjection({ ...base, namespaceLabels: { 'istio-injection': 'enabled' }, hostNetwork: true }).inject, false);
  });

  it('gives ambient pods no sidecar', () => {
    const d = decideInjection({ ...base, namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' } });
    assert.equal(d.inject, false);
    assert.match(d.reason, /ambient/);
  });
});
