import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { lookupKind } from '../../src/api/kinds.ts';
import { findFieldPaths } from '../../src/control/config/support/field-pattern.ts';
import { servedValidator, submittedValidator } from '../../src/control/config/support/served-validator.ts';
import { checkSupport } from '../../src/control/config/support/support-check.ts';
import { UNSUPPORTED_FEATURES } from '../../src/control/config/support/unsupported-features.ts';
import { validateResource } from '../../src/control/config/validation/validate-resource.ts';
import { runCli } from '../validation/run-cli.ts';

function resource(kind: string, spec: Record<string, unknown>, name = 'r', apiGroup?: string): ConfigResource {
  if (apiGroup) {
    const raw = { apiVersion: `${apiGroup}/v1`, kind, metadata: { name, namespace: 'default' }, spec };
    return { apiVersion: raw.apiVersion, kind, group: apiGroup, version: 'v1', metadata: raw.metadata, spec, raw };
  }
  const group = lookupKind(kind === 'Telemetry' ? 'telemetry.istio.io' : ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication'].includes(kind) ? 'security.istio.io' : 'networking.istio.io', 'v1', kind);
  assert.ok(group.known, kind);
  const g = group.info.group;
  const raw = { apiVersion: `${g}/v1`, kind, metadata: { name, namespace: 'default' }, spec };
  return { apiVersion: raw.apiVersion, kind, group: g, version: 'v1', metadata: raw.metadata, spec, raw };
}

describe('the table of what Mizzen does not implement', () => {
  it('flags every row on its own example, at its level, with a field path and the fail-closed behaviour', () => {
    for (const row of UNSUPPORTED_FEATURES) {
      const f = checkSupport(resource(row.kind, row.example, 'r', row.group), [row]);
      const issues = row.level === 'refuse' ? f.refusals : f.warnings;
      assert.ok(issues.length > 0, `${row.kind}: ${row.what}`);
      assert.equal((row.level === 'refuse' ? f.warnings : f.refusals).length, 0);
      for (const i of issues) {
        assert.match(i.path, /^spec/);
        assert.match(i.message, /^not supported by Mizzen: /);
        assert.ok(i.message.includes(row.ifServed));
      }
    }
  });

  it('every example is otherwise valid Istio config (the refusal is ours, not Istio validation)', () => {
    for (const row of UNSUPPORTED_FEATURES) {
      const v = validateResource(resource(row.kind, row.example, 'r', row.group));
      assert.deepEqual(v.errors, [], `${row.kind}: ${row.what}`);
    }
  });

  it('leaves resources alone that use none of it', () => {
    const allow = resource('AuthorizationPolicy', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/books/*', '/api/{**}'] } }] }] });
    assert.deepEqual(checkSupport(allow), { refusals: [], warnings: [] });
    const dr = resource('DestinationRule', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } });
    assert.deepEqual(checkSupport(dr), { refusals: [], warnings: [] });
  });

  it('names each concrete field path', () => {
    const tls = (extra: Record<string, unknown>) => ({ mode: 'MUTUAL', credentialName: 'c', ...extra });
    const gw = resource('Gateway', { servers: [{ port: { number: 443, name: 'a', protocol: 'HTTPS' }, hosts: ['*'], tls: tls({}) }, { port: { number: 8443, name: 'b', protocol: 'HTTPS' }, hosts: ['*'], tls: tls({ verifyCertificateHash: ['ab'] }) }] });
    assert.deepEqual(checkSupport(gw).refusals.map((i) => i.path), ['spec.servers[1].tls.verifyCertificateHash']);
    assert.deepEqual(findFieldPaths({ spec: { m: { a: { mode: 1 }, b: {} } } }, 'spec.m{*}.mode'), ['spec.m[a].mode']);
    const dr = resource('DestinationRule', { host: 'r', subsets: [{ name: 'v1', trafficPolicy: { portLevelSettings: [{ port: { number: 80 } }, { tunnel: { protocol: 'CONNECT', targetHost: 'h', targetPort: 1 } }] } }] });
    assert.deepEqual(checkSupport(dr).warnings.map((i) => i.path), ['spec.subsets[0].trafficPolicy.portLevelSettings[1].tunnel']);
  });

  it('validate/apply refuse; discovery stores the resource with warnings (so generators can fail closed)', () => {
    const row = UNSUPPORTED_FEATURES.find((r) => r.kind === 'Gateway' && r.fields.includes('spec.servers[*].tls.verifyCertificateSpki'))!;
    const targeted = resource('Gateway', row.example);
    const submitted = submittedValidator(validateResource)(targeted);
    assert.equal(submitted.errors.length, 1);
    assert.equal(submitted.errors[0]!.path, 'spec.servers[0].tls.verifyCertificateSpki');
    const served = servedValidator(validateResource)(targeted);
    assert.deepEqual(served.errors, []);
    assert.equal(served.warnings.length, 1);
  });
});

describe('mizzen validate refuses policies it cannot enforce', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-support-'));
    writeFileSync(join(dir, 'pinning.yaml'), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: pinned
  namespace: foo
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["*"]
    tls:
      mode: MUTUAL
      credentialName: c
      verifyCertificateSpki: ["abc="]
`);
    writeFileSync(join(dir, 'telemetry.yaml'), `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  metrics:
  - providers:
    - name: prometheus
    reportingInterval: 10s
`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 naming file, line, resource and field for client certificate pinning', async () => {
    const run = await runCli(['validate', join(dir, 'pinning.yaml')]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /pinning\.yaml:14: Gateway foo\/pinned: spec\.servers\[0\]\.tls\.verifyCertificateSpki: not supported by Mizzen: client certificate pinning .*no listener chain/);
  });

  it('warns (exit 0) about a field that is not implemented outside security policy', async () => {
    const run = await runCli(['validate', join(dir, 'telemetry.yaml')]);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stderr, /telemetry\.yaml:10: warning: Telemetry istio-system\/mesh-default: spec\.metrics\[0\]\.reportingInterval: not supported by Mizzen: metrics reportingInterval is not implemented/);
  });

  it('reports the refusal in JSON as an invalid resource', async () => {
    const run = await runCli(['validate', '-o', 'json', dir]);
    const reports = JSON.parse(run.stdout) as { kind: string; valid: boolean; errors: { path: string }[]; warnings: { path: string }[] }[];
    const targeted = reports.find((r) => r.kind === 'Gateway')!;
    assert.equal(targeted.valid, false);
    assert.deepEqual(targeted.errors.map((e) => e.path), ['spec.servers[0].tls.verifyCertificateSpki']);
    assert.equal(reports.find((r) => r.kind === 'Telemetry')!.valid, true);
  });
});
