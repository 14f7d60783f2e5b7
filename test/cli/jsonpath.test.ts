import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJsonPath } from '../../src/cli/jsonpath.ts';
import { parseLabelSelector } from '../../src/cli/label-selector.ts';

const list = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { metadata: { name: 'curl-abc', labels: { app: 'curl' } }, status: { podIP: '10.244.0.2', phase: 'Running' } },
    { metadata: { name: 'httpbin-def', labels: { app: 'httpbin', version: 'v1' } }, status: { podIP: '10.244.0.3', phase: 'Pending' } },
  ],
};
const svc = { spec: { ports: [{ name: 'status-port', port: 15021 }, { name: 'http2', port: 80, nodePort: 31380 }, { name: 'https', port: 443 }] }, status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } } };

describe('kubectl JSONPath templates', () => {
  it("evaluates the expressions Istio's task pages use", () => {
    assert.equal(compileJsonPath('{.items[0].metadata.name}')(list), 'curl-abc');
    assert.equal(compileJsonPath('{.items..metadata.name}')(list), 'curl-abc httpbin-def');
    assert.equal(compileJsonPath('{.items[*].status.podIP}')(list), '10.244.0.2 10.244.0.3');
    assert.equal(compileJsonPath('{.status.loadBalancer.ingress[0].ip}')(svc), '127.0.0.1');
    assert.equal(compileJsonPath('{.spec.ports[?(@.name=="http2")].port}')(svc), '80');
    assert.equal(compileJsonPath('{.spec.ports[?(@.name=="http2")].nodePort}')(svc), '31380');
    assert.equal(compileJsonPath("{.items[?(@.status.phase=='Running')].metadata.name}")(list), 'curl-abc');
  });

  it('supports range/end, string literals, slices, negative indexes, existence filters and the relaxed form', () => {
    assert.equal(compileJsonPath('{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}')(list), 'curl-abc\t10.244.0.2\nhttpbin-def\t10.244.0.3\n');
    assert.equal(compileJsonPath('{.items[-1:].metadata.name}')(list), 'httpbin-def');
    assert.equal(compileJsonPath('{.items[-1].metadata.name}')(list), 'httpbin-def');
    assert.equal(compileJsonPath('{.items[?(@.metadata.labels.version)].metadata.name}')(list), 'httpbin-def');
    assert.equal(compileJsonPath('.items[0].metadata.name')(list), 'curl-abc');
    assert.equal(compileJsonPath('name: {.items[0].metadata.labels}')(list), 'name: {"app":"curl"}');
    assert.equal(compileJsonPath("{.items[0].metadata.labels['app']}")(list), 'curl');
    assert.equal(compileJsonPath('{.nothing.here}')(list), '');
  });

  it('reports a malformed template', () => {
    assert.throws(() => compileJsonPath('{.items[0'), /error parsing jsonpath/);
    assert.throws(() => compileJsonPath('{range .items[*]}{.x}'), /range without end/);
  });
});

describe('label selectors (-l)', () => {
  it('matches equality, inequality, set and existence requirements', () => {
    const labels = { app: 'reviews', version: 'v2' };
    assert.equal(parseLabelSelector('app=reviews')(labels), true);
    assert.equal(parseLabelSelector('app==reviews,version=v2')(labels), true);
    assert.equal(parseLabelSelector('app=reviews,version!=v2')(labels), false);
    assert.equal(parseLabelSelector('version in (v1, v3)')(labels), false);
    assert.equal(parseLabelSelector('version notin (v1,v3),app')(labels), true);
    assert.equal(parseLabelSelector('!istio')(labels), true);
    assert.equal(parseLabelSelector('istio')(labels), false);
    assert.throws(() => parseLabelSelector('app=(x'), /unable to parse requirement/);
  });
});
