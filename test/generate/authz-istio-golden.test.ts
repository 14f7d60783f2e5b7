import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../src/api/istio/authorization-policy.ts';
import { buildRbac, rbacFilterList } from '../../src/control/generate/authz-rbac.ts';
import { resolveExtAuthzProviders } from '../../src/control/generate/ext-authz-providers.ts';

/** Istio's own expected RBAC for AuthorizationPolicies (pilot/pkg/security/authz/builder/testdata). */
const DIR = new URL('../../../shared/istio/istio/pilot/pkg/security/authz/builder/testdata/', import.meta.url).pathname;

/** The extension providers of Istio's builder_test.go (meshConfigGRPC, ...), as MeshConfig YAML gives them. */
const EXT_AUTHZ_HOST = 'my-custom-ext-authz.foo.svc.cluster.local';
const MESH = {
  grpc: [{ name: 'default', envoyExtAuthzGrpc: { service: `foo/${EXT_AUTHZ_HOST}`, port: 9000, timeout: '0.002s', failOpen: true, statusOnError: '403', includeRequestBodyInCheck: { maxRequestBytes: 4096, allowPartialMessage: true } } }],
  grpcNoNamespace: [{ name: 'default', envoyExtAuthzGrpc: { service: EXT_AUTHZ_HOST, port: 9000, failOpen: true, statusOnError: '403' } }],
  http: [{
    name: 'default',
    envoyExtAuthzHttp: {
      service: `foo/${EXT_AUTHZ_HOST}`, port: 9000, timeout: '10s', failOpen: true, statusOnError: '403', pathPrefix: '/check',
      includeRequestHeadersInCheck: ['x-custom-id', 'x-prefix-*', '*-suffix'], includeHeadersInCheck: ['should-not-include-when-IncludeRequestHeadersInCheck-is-set'],
      includeAdditionalHeadersInCheck: { 'x-header-1': 'value-1', 'x-header-2': 'value-2' },
      includeRequestBodyInCheck: { maxRequestBytes: 2048, allowPartialMessage: true, packAsBytes: true },
      headersToUpstreamOnAllow: ['Authorization', 'x-prefix-*', '*-suffix'], headersToDownstreamOnDeny: ['Set-cookie', 'x-prefix-*', '*-suffix'], headersToDownstreamOnAllow: ['Set-cookie', 'x-prefix-*', '*-suffix'],
    },
  }],
  invalid: [{ name: 'default', envoyExtAuthzHttp: { service: 'foo/my-custom-ext-authz', port: 999999, pathPrefix: 'check', statusOnError: '999' } }],
};

function policies(file: string): ConfigResource<AuthorizationPolicySpec>[] {
  const docs = parseAllDocuments(readFileSync(DIR + file, 'utf8')).map((d) => d.toJS() as { metadata: { name: string; namespace: string }; spec: AuthorizationPolicySpec } | null);
  return docs.filter((o) => o !== null).map((o) => {
    return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', group: 'security.istio.io', version: 'v1', metadata: o.metadata, spec: o.spec, raw: o };
  });
}

function expected(file: string): unknown[] {
  return parseAllDocuments(readFileSync(DIR + file, 'utf8')).map((d) => {
    const f = d.toJS() as { typedConfig: Record<string, unknown> };
    // istiod writes a dry-run stats prefix on every filter (also without shadow rules); compared only where shadow rules exist
    if (!f.typedConfig.shadowRules) delete f.typedConfig.shadowRulesStatPrefix;
    return f;
  });
}

// Not compared (not implemented): wildcard principals across trust domain aliases (principal-with-wildcard, td-aliases-source-principal).
// CUSTOM cases run with the MeshConfig providers of Istio's test (MESH); allow-full-rule differs in structure only (request.auth.audiences/presenter/claims:
// one matcher per value under orIds where istiod writes one metadata matcher with an or-list; the same requests match).
const CASES: [string, string, string[], boolean, { domain: string; aliases: string[] }?, (keyof typeof MESH)?][] = [
  ['a single ALLOW policy with every kind of source, operation and condition', 'http/single-policy-in.yaml', ['http/single-policy-out.yaml'], false],
  ['several policies in one filter', 'http/multiple-policies-in.yaml', ['http/multiple-policies-out.yaml'], false],
  ['an ALLOW policy with an empty rule (allow all)', 'http/allow-empty-rule-in.yaml', ['http/allow-empty-rule-out.yaml'], false],
  ['an ALLOW policy without rules (allow nothing)', 'http/allow-nil-rule-in.yaml', ['http/allow-nil-rule-out.yaml'], false],
  ['DENY and ALLOW policies (two filters, DENY first)', 'http/deny-and-allow-in.yaml', ['http/deny-and-allow-out1.yaml', 'http/deny-and-allow-out2.yaml'], false],
  ['principals under trust domain aliases', 'http/simple-policy-td-aliases-in.yaml', ['http/simple-policy-td-aliases-out.yaml'], false, { domain: 'td1', aliases: ['cluster.local'] }],
  ['principals under several trust domain aliases', 'http/simple-policy-multiple-td-aliases-in.yaml', ['http/simple-policy-multiple-td-aliases-out.yaml'], false, { domain: 'td1', aliases: ['cluster.local', 'some-td'] }],
  ['TCP: ALLOW with HTTP and TCP rules keeps the TCP ones', 'tcp/allow-both-http-tcp-in.yaml', ['tcp/allow-both-http-tcp-out.yaml'], true],
  ['TCP: ALLOW rules with HTTP-only fields are dropped', 'tcp/allow-only-http-in.yaml', ['tcp/allow-only-http-out.yaml'], true],
  ['TCP: DENY rules lose their HTTP-only fields', 'tcp/deny-both-http-tcp-in.yaml', ['tcp/deny-both-http-tcp-out.yaml'], true],
  ['CUSTOM without a usable provider: its rules become DENY', 'http/custom-simple-http-in.yaml', ['http/custom-bad-out.yaml'], false],
  ['AUDIT as RBAC LOG', 'http/audit-full-rule-in.yaml', ['http/audit-full-rule-out.yaml'], false],
  ['TCP: AUDIT rules lose their HTTP-only fields', 'tcp/audit-both-http-tcp-in.yaml', ['tcp/audit-both-http-tcp-out.yaml'], true],
  ['a dry-run ALLOW policy as shadow rules', 'http/dry-run-allow-in.yaml', ['http/dry-run-allow-out.yaml'], false],
  ['dry-run and enforced ALLOW policies together', 'http/dry-run-mix-in.yaml', ['http/dry-run-mix-out.yaml'], false],
  ['dry-run ALLOW and DENY policies', 'http/dry-run-allow-and-deny-in.yaml', ['http/dry-run-allow-and-deny-out1.yaml', 'http/dry-run-allow-and-deny-out2.yaml'], false],
  ['TCP: dry-run policies', 'tcp/dry-run-mix-in.yaml', ['tcp/dry-run-mix-out.yaml'], true],
  ['source trust domains', 'http/trust-domains-in.yaml', ['http/trust-domains-out.yaml'], false],
  ['CUSTOM with a gRPC provider: RBAC shadow rules + ext_authz grpc_service', 'http/custom-simple-http-in.yaml', ['http/custom-grpc-provider-out1.yaml', 'http/custom-grpc-provider-out2.yaml'], false, undefined, 'grpc'],
  ['CUSTOM with a gRPC provider given without namespace', 'http/custom-simple-http-in.yaml', ['http/custom-grpc-provider-no-namespace-out1.yaml', 'http/custom-grpc-provider-no-namespace-out2.yaml'], false, undefined, 'grpcNoNamespace'],
  ['CUSTOM with an HTTP provider (every field)', 'http/custom-simple-http-in.yaml', ['http/custom-http-provider-out1.yaml', 'http/custom-http-provider-out2.yaml'], false, undefined, 'http'],
  ['CUSTOM with two different providers on one workload: DENY of each', 'http/custom-bad-multiple-providers-in.yaml', ['http/custom-bad-multiple-providers-out1.yaml', 'http/custom-bad-multiple-providers-out2.yaml'], false, undefined, 'http'],
  ['CUSTOM with an invalid provider: DENY', 'http/custom-simple-http-in.yaml', ['http/custom-bad-out.yaml'], false, undefined, 'invalid'],
  ['TCP: CUSTOM with a gRPC provider (network RBAC + network ext_authz)', 'tcp/custom-both-http-tcp-in.yaml', ['tcp/custom-both-http-tcp-out1.yaml', 'tcp/custom-both-http-tcp-out2.yaml'], true, undefined, 'grpc'],
  ['TCP: CUSTOM with an HTTP provider has no TCP filters', 'tcp/custom-only-http-in.yaml', [], true, undefined, 'http'],
  ['paths with {*} and {**} templates (Envoy uri_template)', 'http/allow-path-in.yaml', ['http/allow-path-out.yaml'], false],
];

describe("AuthorizationPolicy against Istio's expected RBAC", () => {
  for (const [what, input, outputs, tcp, trust, mesh] of CASES) {
    it(`matches Istio for ${what}`, (t) => {
      if (!existsSync(DIR + input)) {
        t.skip(`Istio test data not found at ${DIR} (needs ../shared/istio)`);
        return;
      }
      const extAuthz = mesh ? resolveExtAuthzProviders(MESH[mesh], (host) => (host === EXT_AUTHZ_HOST ? [{ hostname: host, namespace: 'foo' }] : [])) : undefined;
      const rbac = buildRbac(policies(input), tcp, trust, extAuthz);
      const got = [...rbac.custom, ...rbacFilterList(rbac)];
      assert.deepEqual(got, outputs.map(expected).flat());
    });
  }
});
