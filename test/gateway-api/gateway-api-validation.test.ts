import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import { validateResource } from '../../src/control/config/validation/validate-resource.ts';
import { ISTIO_DATA, istioDataMissing } from '../validation/istio-data.ts';

function validate(yaml: string): { errors: string[]; warnings: string[] } {
  const parsed = parseDocuments(yaml, 'test.yaml');
  assert.deepEqual(parsed.problems, []);
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const r of parsed.resources) {
    const v = validateResource(r);
    errors.push(...v.errors.map((e) => `${r.kind}: ${e.path}: ${e.message}`));
    warnings.push(...v.warnings.map((e) => `${r.kind}: ${e.path}: ${e.message}`));
  }
  return { errors, warnings };
}

const ROUTE = (rules: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
${rules}`;

describe('Gateway API kinds are validated like an API server with the standard-channel CRDs', () => {
  it('accepts Istio\'s Gateway API samples (Gateway, HTTPRoute)', { skip: istioDataMissing('istio/samples/bookinfo/gateway-api') }, () => {
    let checked = 0;
    for (const sample of ['bookinfo', 'httpbin', 'helloworld']) {
      const dir = `${ISTIO_DATA}istio/samples/${sample}/gateway-api/`;
      for (const f of readdirSync(dir)) {
        const v = validate(readFileSync(dir + f, 'utf8'));
        assert.deepEqual(v.errors, [], f);
        checked++;
      }
    }
    assert.ok(checked >= 8);
  });

  it('refuses what the CRDs\' schemas and CEL rules refuse', () => {
    const cases: [string, RegExp][] = [
      [ROUTE('  - matches: [{path: {type: PathPrefix, value: "no-slash"}}]\n'), /must be an absolute path/],
      [ROUTE('  - backendRefs: [{name: svc}]\n'), /Must have port for Service reference/],
      [ROUTE('  - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]\n    matches: [{path: {type: Exact, value: /a}}]\n'), /replacePrefixMatch/i],
      [`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]
`, /Listener name must be unique|Duplicate value/],
      [`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  listeners: [{name: a, port: 80, protocol: HTTP}]
`, /gatewayClassName/],
      [`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: GRPCRoute
metadata: {name: g}
spec: {}
`, /not served/],
      [`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: Upper}
spec: {}
`, /RFC 1123/],
    ];
    for (const [yaml, expected] of cases) {
      const v = validate(yaml);
      assert.ok(v.errors.some((e) => expected.test(e)), `${yaml}\n=> ${v.errors.join('\n')}`);
    }
  });

  it('applies the CRDs\' defaults before their rules (a backendRef of the default kind Service with a port, an address of the default type)', () => {
    assert.deepEqual(validate(ROUTE('  - backendRefs: [{name: svc, port: 80}]\n')).errors, []);
    assert.deepEqual(validate(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  addresses: [{value: 10.0.0.1}]
  listeners: [{name: a, port: 80, protocol: HTTP}]
`).errors, []);
  });
});
