import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CORPUS, loadCases } from './istio-cases.ts';

const BIN = join(import.meta.dirname, '../../bin/mizzen.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as a child process (same Node binary as the test runner). */
function mizzen(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const BROKEN_MESH = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings.example.com]
  gateways: [no-such-gateway]
  http:
  - route:
    - destination:
        host: ratings
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
spec:
  selector: {app: ratings}
  ports:
  - port: 9080
`;

const HEALTHY_MESH = `apiVersion: v1
kind: Service
metadata:
  name: details
  namespace: shop
spec:
  selector: {app: details}
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
  namespace: shop
spec:
  hosts: [details]
  http:
  - route:
    - destination:
        host: details
`;

const INFO_ONLY = `apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: shop
spec:
  selector: {app: legacy}
  ports:
  - name: foo
    port: 8080
`;

const TCP_SERVICE_ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: db
  namespace: shop
spec:
  hosts: [db.example.com]
  ports:
  - number: 5432
    name: tcp
    protocol: TCP
  resolution: DNS
`;

describe('mizzen analyze (CLI)', () => {
  let dir = '';
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-analyze-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints JSON messages with code, name, level, resource and message, and exits 79 on errors', async () => {
    const r = await mizzen(['analyze', '-o', 'json', file('broken.yaml', BROKEN_MESH)]);
    assert.equal(r.code, 79, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    for (const m of out) assert.deepEqual(Object.keys(m).sort(), ['code', 'level', 'message', 'name', 'reference', 'resource']);
    const found = (code: string, resource: string): Record<string, unknown> | undefined => out.find((m) => m.code === code && m.resource === resource);
    const host = found('IST0101', 'VirtualService default/reviews');
    assert.ok(host, JSON.stringify(out));
    assert.equal(host.name, 'ReferencedResourceNotFound');
    assert.equal(host.level, 'Error');
    assert.equal(host.message, 'Referenced host not found: "reviews"');
    assert.equal(host.reference, `${join(dir, 'broken.yaml')}:1`);
    // No namespace in the input: the namespace analyzed (default), as istioctl.
    assert.ok(found('IST0101', 'VirtualService default/ratings'), 'gateway not found is reported');
    assert.ok(found('IST0132', 'VirtualService default/ratings'), 'host not in gateway is reported');
    assert.ok(found('IST0118', 'Service default/ratings'), 'unnamed port is reported');
    assert.equal(found('IST0118', 'Service default/ratings')?.reference, `${join(dir, 'broken.yaml')}:25`);
    const other = await mizzen(['analyze', '-o', 'json', '-n', 'shop', join(dir, 'broken.yaml')]);
    assert.ok((JSON.parse(other.stdout) as { resource: string }[]).some((m) => m.resource === 'Service shop/ratings'));
  });

  it('prints one istioctl-style line per message in text mode', async () => {
    const r = await mizzen(['analyze', file('broken-text.yaml', BROKEN_MESH)]);
    assert.equal(r.code, 79);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes(`Error [IST0101] (VirtualService default/reviews ${join(dir, 'broken-text.yaml')}:1) Referenced host not found: "reviews"`), r.stdout);
    for (const l of lines) assert.match(l, /^(Error|Warning|Info) \[IST\d{4}\] \([A-Za-z]+ [^)]+ \S+:\d+\) .+/);
    // Most severe first, as istioctl sorts.
    assert.ok(lines[0]!.startsWith('Error'));
  });

  it('exits 0 with no output when the config is clean', async () => {
    const path = file('healthy.yaml', HEALTHY_MESH);
    const text = await mizzen(['analyze', path]);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.equal(text.stdout, '');
    assert.match(text.stderr, /No validation issues found/);
    const json = await mizzen(['analyze', '-o', 'json', path]);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), []);
  });

  it('exits 0 for Info and Warning messages unless --failure-threshold lowers the bar', async () => {
    const path = file('info.yaml', INFO_ONLY);
    const r = await mizzen(['analyze', '-o', 'json', path]);
    assert.equal(r.code, 0);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { code: string }[]).map((m) => m.code),
      ['IST0118'],
    );
    const strict = await mizzen(['analyze', '--failure-threshold', 'Info', path]);
    assert.equal(strict.code, 79);
  });

  it('walks directories recursively', async () => {
    const r = await mizzen(['analyze', '-o', 'json', dir]);
    const out = JSON.parse(r.stdout) as { code: string; resource: string }[];
    assert.ok(out.some((m) => m.resource === 'Service shop/legacy'));
    assert.ok(out.some((m) => m.resource === 'VirtualService default/reviews'));
  });

  it('takes a mesh config file like istioctl --meshConfigFile', async () => {
    const se = file('se.yaml', TCP_SERVICE_ENTRY);
    const plain = await mizzen(['analyze', '-o', 'json', se]);
    assert.ok((JSON.parse(plain.stdout) as { code: string }[]).some((m) => m.code === 'IST0134'));
    const mesh = file('mesh.yml.txt', 'defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_AUTO_ALLOCATE: "true"\n');
    const withMesh = await mizzen(['analyze', '-o', 'json', '--meshConfigFile', mesh, se]);
    assert.ok(!(JSON.parse(withMesh.stdout) as { code: string }[]).some((m) => m.code === 'IST0134'), withMesh.stdout);
  });

  it('runs only the analyzers asked for and lists them', async () => {
    const only = await mizzen(['analyze', '-o', 'json', '--analyzer', 'service.PortNameAnalyzer', file('only.yaml', BROKEN_MESH)]);
    assert.deepEqual([...new Set((JSON.parse(only.stdout) as { code: string }[]).map((m) => m.code))], ['IST0118']);
    assert.equal(only.code, 0);
    const list = await mizzen(['analyze', '--list-analyzers']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^virtualservice\.DestinationHostAnalyzer: /m);
    assert.match(list.stdout, /^schema\.ValidationAnalyzer\.VirtualService: /m);
    const bad = await mizzen(['analyze', '--analyzer', 'no.SuchAnalyzer', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown analyzer no\.SuchAnalyzer/);
  });

  it('reports malformed YAML with file and line, without a stack trace', async () => {
    const path = file('bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n');
    const r = await mizzen(['analyze', path]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(path), r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.doesNotMatch(r.stderr, /No validation issues found/, 'a file that did not parse was not analyzed');
  });

  it('reports a missing path as a problem', async () => {
    const r = await mizzen(['analyze', join(dir, 'nope.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no such file or directory/);
  });

  it('compares clusters given with --cluster ID=PATH', async () => {
    const svc = (port: number): string => `apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec: {ports: [{name: http, port: ${port}}]}\n`;
    const east = file('east.yaml', svc(80));
    const west = file('west.yaml', svc(8080));
    const r = await mizzen(['analyze', '-o', 'json', '--cluster', `east=${east}`, '--cluster', `west=${west}`]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { code: string; resource: string; message: string }[];
    assert.deepEqual(out.filter((m) => m.code === 'IST0170').map((m) => m.resource), ['Service ns/s']);
    const bad = await mizzen(['analyze', '--cluster', 'nopath']);
    assert.equal(bad.code, 2);
  });

  it("reproduces an Istio analyzer case through the CLI (--analyzer, --meshConfigFile)", async (t) => {
    const cases = loadCases();
    const c = cases?.find((x) => x.name === 'istioInjectionEnableNamespacesByDefault');
    if (!c) {
      t.skip('../shared/istio/analyze-expected.json is missing');
      return;
    }
    const r = await mizzen(['analyze', '-o', 'json', '--analyzer', c.analyzer, ...(c.inputFiles ?? []).map((f) => join(CORPUS, f))]);
    const got = (JSON.parse(r.stdout) as { code: string; resource: string }[]).map((m) => `${m.code} ${m.resource}`).sort();
    assert.deepEqual(got, c.expected.map((e) => `${e.code} ${e.resource}`).sort());
  });
});
