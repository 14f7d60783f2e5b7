import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './run-cli.ts';

const VALID_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;

const INVALID_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: prod
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings}
      weight: -5
    timeout: 10
`;

const BAD_DR = `# leading comment
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: bad
spec:
  host: ""
`;

describe('mizzen validate (CLI)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-validate-'));
    writeFileSync(join(dir, 'valid.yaml'), VALID_VS);
    writeFileSync(join(dir, 'invalid.yaml'), `${VALID_VS}---\n${INVALID_VS}`);
    writeFileSync(join(dir, 'bad-dr.yaml'), BAD_DR);
    writeFileSync(join(dir, 'malformed.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: [a, b\n');
    writeFileSync(join(dir, 'unknown.yaml'), 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef\nspec: {}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n');
    writeFileSync(join(dir, 'unserved.yaml'), 'apiVersion: networking.istio.io/v2\nkind: Gateway\nmetadata:\n  name: gw\nspec: {}\n');
    writeFileSync(join(dir, 'resource.json'), JSON.stringify({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } }));
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'nested', 'svc.yml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  selector: {app: reviews}\n  ports:\n  - name: http\n    port: 9080\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and prints no error lines when everything is valid', async () => {
    const run = await runCli(['validate', join(dir, 'valid.yaml'), join(dir, 'resource.json'), join(dir, 'nested')]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /3 resource\(s\) valid/);
  });

  it('prints FILE:LINE: Kind namespace/name: field.path: message for each error and exits 1', async () => {
    const file = join(dir, 'invalid.yaml');
    const run = await runCli(['validate', file]);
    assert.equal(run.code, 1);
    const lines = run.stdout.trim().split('\n');
    assert.ok(lines.includes(`${file}:22: VirtualService prod/ratings: spec.http[0].route[0].weight: weight -5 < 0`), run.stdout);
    assert.ok(lines.some((l) => l.startsWith(`${file}:23: VirtualService prod/ratings: spec.http[0].timeout: `)), run.stdout);
    assert.ok(lines.every((l) => /^.*:2[23]: VirtualService prod\/ratings: /.test(l)), 'only the invalid document is reported, each error on its field\'s line');
  });

  it('names a resource without namespace as Kind name and reports the line of the field (after leading comments)', async () => {
    const file = join(dir, 'bad-dr.yaml');
    const run = await runCli(['validate', file]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, `${file}:8: DestinationRule bad: spec.host: empty domain name not allowed\n`);
  });

  it('reports malformed YAML as an error naming file and line', async () => {
    const file = join(dir, 'malformed.yaml');
    const run = await runCli(['validate', file]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[56]: invalid YAML: `));
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('warns about unknown kinds without failing, and rejects unserved versions', async () => {
    const unknown = await runCli(['validate', join(dir, 'unknown.yaml')]);
    assert.equal(unknown.code, 0, unknown.stdout);
    assert.match(unknown.stderr, /unknown\.yaml:2: warning: EnvoyFilter ef: kind: EnvoyFilter .* not supported/);
    assert.match(unknown.stderr, /unknown\.yaml:8: warning: Widget w: kind: unknown kind Widget/);
    const unserved = await runCli(['validate', join(dir, 'unserved.yaml')]);
    assert.equal(unserved.code, 1);
    assert.match(unserved.stdout, /unserved\.yaml:1: Gateway gw: apiVersion: version "v2" of Gateway is not served/);
  });

  it('prints one JSON object per resource with -o json', async () => {
    const run = await runCli(['validate', '-o', 'json', dir]);
    assert.equal(run.code, 1);
    const reports = JSON.parse(run.stdout) as Record<string, unknown>[];
    for (const r of reports) assert.deepEqual(Object.keys(r), ['file', 'line', 'apiVersion', 'kind', 'namespace', 'name', 'valid', 'errors', 'warnings']);
    const ratings = reports.find((r) => r.name === 'ratings');
    assert.ok(ratings);
    assert.equal(ratings.file, join(dir, 'invalid.yaml'));
    assert.equal(ratings.line, 12);
    assert.equal(ratings.apiVersion, 'networking.istio.io/v1');
    assert.equal(ratings.kind, 'VirtualService');
    assert.equal(ratings.namespace, 'prod');
    assert.equal(ratings.valid, false);
    assert.ok((ratings.errors as { path: string; message: string }[]).some((e) => e.path === 'spec.http[0].route[0].weight'));
    const reviews = reports.find((r) => r.name === 'reviews' && r.kind === 'VirtualService');
    assert.deepEqual({ valid: reviews?.valid, namespace: reviews?.namespace, errors: reviews?.errors }, { valid: true, namespace: 'default', errors: [] });
    const malformed = reports.find((r) => String(r.file).endsWith('malformed.yaml'));
    assert.equal(malformed?.valid, false);
    assert.match((malformed?.errors as { message: string }[])[0].message, /invalid YAML/);
    const svc = reports.find((r) => r.kind === 'Service');
    assert.equal(svc?.namespace, null);
  });

  it('takes files with -f as istioctl does', async () => {
    const run = await runCli(['validate', '-f', join(dir, 'valid.yaml'), '-f', join(dir, 'resource.json')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /2 resource\(s\) valid/);
  });

  it('reads standard input for -', async () => {
    const run = await runCli(['validate', '-f', '-'], undefined, INVALID_VS);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^<stdin>:11: VirtualService prod\/ratings: spec\.http\[0\]\.route\[0\]\.weight: weight -5 < 0$/m);
  });

  it('fails on a path that does not exist and on a bad output format', async () => {
    const missing = await runCli(['validate', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /nope\.yaml:0: no such file or directory/);
    const format = await runCli(['validate', '-o', 'xml', dir]);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /unknown output format/);
  });
});

describe('mizzen validate: one clear error per mistake', () => {
  it('reports a typo once, on its line, with the field it probably meant; a bad regex with RE2\'s message and the user\'s pattern', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-validate-typo-'));
    try {
      const file = join(dir, 'typo.yaml');
      writeFileSync(
        file,
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts:\n  - reviews\n  http:\n  - match:\n    - uri:\n        regex: "/reviews/([/"\n    route:\n    - destinaton:\n        host: reviews\n        subset: v1\n',
      );
      const run = await runCli(['validate', file]);
      assert.equal(run.code, 1);
      assert.equal(
        run.stdout,
        `${file}:10: VirtualService reviews: spec.http[0].match[0].uri: "uri": error parsing regexp: missing closing ]: \`[/\`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)\n` +
          `${file}:13: VirtualService reviews: spec.http[0].route[0].destinaton: unknown field "destinaton", did you mean "destination"?\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
