import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CelEvalError, evaluateCel } from '../../src/lib/cel/cel-evaluator.ts';
import { CelSyntaxError, parseCel } from '../../src/lib/cel/cel-parser.ts';

const run = (expr: string, self: unknown): unknown => evaluateCel(parseCel(expr), self);

describe('CEL subset (x-kubernetes-validations rules)', () => {
  it('evaluates the rules Istio CRDs use', () => {
    assert.equal(run("duration(self) >= duration('1ms')", '10s'), true);
    assert.equal(run("duration(self) >= duration('1ms')", '500us'), false);
    assert.equal(run('0 < self && self <= 65535', 65536), false);
    assert.equal(run('self.all(key, !key.contains("*"))', { a: '1', 'b*': '2' }), false);
    assert.equal(run('self.all(l1, self.exists_one(l2, l1.number == l2.number))', [{ number: 1 }, { number: 2 }]), true);
    assert.equal(run('self.all(l1, self.exists_one(l2, l1.number == l2.number))', [{ number: 1 }, { number: 1 }]), false);
    assert.equal(run('(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) <= 1', { selector: {}, targetRef: {} }), false);
    assert.equal(run('self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true', 'unix://@abs'), true);
    assert.equal(run('self.all(key, 0 < int(key) && int(key) <= 65535)', { '80': {}, '0': {} }), false);
    assert.equal(run('url(self).getScheme() in ["http", "https"]', 'https://example.com/jwks'), true);
    assert.equal(run('self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))', { http: 1, 'bad_name': 2 }), false);
    assert.equal(run("((has(self.resolution) ? self.resolution : \"NONE\") == \"NONE\") ? !has(self.endpoints) : true", { endpoints: [] }), true);
  });

  it('treats errors as failures that || and && can absorb', () => {
    assert.throws(() => run('self.value != ""', {}), CelEvalError);
    assert.equal(run('true || self.missing', {}), true);
    assert.equal(run('self.missing || true', {}), true);
    assert.equal(run('false && self.missing', {}), false);
    assert.throws(() => run('url(self).getScheme() == "http"', 'hTPp\\\\blah'), CelEvalError);
  });

  it('rejects malformed expressions with a syntax error', () => {
    assert.throws(() => parseCel(')++++'), CelSyntaxError);
    assert.throws(() => parseCel('a ? b'), CelSyntaxError);
    assert.doesNotThrow(() => parseCel("connection.mtls && request.url_path.contains('v1beta3')"));
    assert.doesNotThrow(() => parseCel('response.code >= 400'));
  });
});
