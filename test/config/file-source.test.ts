import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync as writeInPlace } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, it, beforeEach, afterEach } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import type { ConfigChange } from '../../src/control/config/config-store-reader.ts';
import { FileSource, type ScanResult } from '../../src/control/config/sources/file-source.ts';
import type { ResourceValidator } from '../../src/control/config/sources/resource-validator.ts';
import { ManualClock } from '../../src/lib/clock.ts';

/** Test validator standing in for the real one (injected in the product): hosts must be non-empty. */
const validate: ResourceValidator = (r: ConfigResource) => {
  if (r.kind !== 'VirtualService') return { errors: [], warnings: [] };
  const hosts = (r.spec as { hosts?: unknown }).hosts;
  return Array.isArray(hosts) && hosts.length > 0 ? { errors: [], warnings: [] } : { errors: [{ path: 'spec.hosts', message: 'at least one host is required' }], warnings: [] };
};

function vsYaml(name: string, hosts: string[], namespace = 'default'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  hosts: [${hosts.join(', ')}]
  http:
  - route:
    - destination:
        host: ${hosts[0] ?? 'x'}
`;
}

/** Write atomically (temp dotfile + rename), so a scan never sees a half-written file. */
function writeFileSync(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.tmp`);
  writeInPlace(tmp, text);
  renameSync(tmp, file);
}

function hostsOf(store: ConfigStore, name: string): unknown {
  return (store.get('VirtualService', 'default', name)?.spec as { hosts?: unknown } | undefined)?.hosts;
}

/** Resolve on the first scan whose result satisfies `pred` (file events drive the scans). */
function nextScan(source: FileSource, pred: (r: ScanResult) => boolean): Promise<ScanResult> {
  return new Promise((resolve) => {
    const off = source.onScan((r) => {
      if (pred(r)) {
        off();
        resolve(r);
      }
    });
  });
}

describe('FileSource', () => {
  let dir: string;
  let source: FileSource | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-filesource-'));
  });
  afterEach(() => {
    source?.close();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads every config file under a directory recursively, skipping other files', async () => {
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'a.yaml'), vsYaml('a', ['a.example.com']));
    writeFileSync(join(dir, 'sub', 'deeper', 'b.yml'), vsYaml('b', ['b.example.com']) + '---\n' + vsYaml('c', ['c.example.com']));
    writeFileSync(join(dir, 'sub', 'd.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }));
    writeFileSync(join(dir, 'notes.txt'), 'not config');
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, rescanIntervalMs: 0 });
    const result = await source.start();
    assert.equal(result.changes.length, 4);
    assert.deepEqual(store.list('VirtualService').map((r) => r.metadata.name), ['a', 'b', 'c']);
    assert.ok(store.get('Namespace', undefined, 'shop'));
    assert.deepEqual(source.problems(), []);
  });

  it('follows edits, keeps the last valid version of a resource that becomes invalid, and deletes with the file', async () => {
    const file = join(dir, 'vs.yaml');
    writeFileSync(file, vsYaml('reviews', ['reviews']) + '---\n' + vsYaml('other', ['other']));
    const store = new ConfigStore();
    const changes: ConfigChange[] = [];
    store.subscribe((c) => changes.push(...c));
    source = new FileSource({ paths: [dir], store, validate, debounceMs: 20, rescanIntervalMs: 0 });
    await source.start();
    assert.deepEqual(hostsOf(store, 'reviews'), ['reviews']);

    // edit → new version served
    let scan = nextScan(source, (r) => r.filesRead.includes(file));
    writeFileSync(file, vsYaml('reviews', ['reviews', 'reviews.default']) + '---\n' + vsYaml('other', ['other']));
    await scan;
    assert.deepEqual(hostsOf(store, 'reviews'), ['reviews', 'reviews.default']);

    // invalid → last valid kept, error reported with file, line, resource and path; the valid neighbour still updates
    changes.length = 0;
    scan = nextScan(source, (r) => r.filesRead.includes(file));
    writeFileSync(file, vsYaml('reviews', []) + '---\n' + vsYaml('other', ['other2']));
    const invalid = await scan;
    assert.deepEqual(hostsOf(store, 'reviews'), ['reviews', 'reviews.default']);
    assert.deepEqual(hostsOf(store, 'other'), ['other2']);
    assert.deepEqual(changes.map((c) => c.name), ['other']);
    const err = invalid.problems.find((p) => p.level === 'error');
    assert.ok(err);
    assert.equal(err.file, file);
    assert.equal(err.line, 1);
    assert.equal(err.resource, 'VirtualService default/reviews');
    assert.equal(err.path, 'spec.hosts');
    assert.match(err.message, /last valid version keeps serving/);
    assert.equal(source.status()[0].errors.length, 1);

    // fixed → error cleared
    scan = nextScan(source, (r) => r.filesRead.includes(file));
    writeFileSync(file, vsYaml('reviews', ['fixed']) + '---\n' + vsYaml('other', ['other2']));
    const fixed = await scan;
    assert.deepEqual(hostsOf(store, 'reviews'), ['fixed']);
    assert.deepEqual(fixed.problems, []);

    // deleted → its resources deleted
    changes.length = 0;
    scan = nextScan(source, (r) => r.filesRemoved.includes(file));
    unlinkSync(file);
    await scan;
    assert.equal(store.list('VirtualService').length, 0);
    assert.deepEqual(changes.map((c) => `${c.name}:${c.new ? 'updated' : 'deleted'}`).sort(), ['other:deleted', 'reviews:deleted']);
  });

  it('keeps every previous resource of a file that stops parsing', async () => {
    const file = join(dir, 'vs.yaml');
    writeFileSync(file, vsYaml('a', ['a']) + '---\n' + vsYaml('b', ['b']));
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, debounceMs: 20, rescanIntervalMs: 0 });
    await source.start();
    const scan = nextScan(source, (r) => r.filesRead.includes(file));
    writeFileSync(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a\nspec: [\n');
    const result = await scan;
    assert.deepEqual(store.list('VirtualService').map((r) => r.metadata.name), ['a', 'b']);
    assert.equal(result.changes.length, 0);
    const err = result.problems.find((p) => p.level === 'error');
    assert.ok(err);
    assert.equal(err.file, file);
    assert.match(err.message, /invalid YAML.*previous resource\(s\) keep serving/);
  });

  it('picks up files in new subdirectories and reports unknown kinds as warnings', async () => {
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, debounceMs: 20, rescanIntervalMs: 0 });
    await source.start();
    const file = join(dir, 'late', 'more.yaml');
    const scan = nextScan(source, (r) => r.filesRead.includes(file));
    mkdirSync(join(dir, 'late'));
    writeFileSync(file, vsYaml('late', ['late']) + '---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r}\nspec: {}\n');
    const result = await scan;
    assert.deepEqual(store.list('VirtualService').map((r) => r.metadata.name), ['late']);
    assert.equal(store.list('TCPRoute').length, 0);
    assert.ok(result.problems.some((p) => p.level === 'warning' && /unknown kind/.test(p.message)));
  });

  it('notices changes by periodic rescan when file events are off (manual clock)', async () => {
    const clock = new ManualClock();
    const file = join(dir, 'vs.yaml');
    writeFileSync(file, vsYaml('a', ['one']));
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, clock, watch: false, rescanIntervalMs: 1000 });
    await source.start();
    writeFileSync(file, vsYaml('a', ['two']));
    const scan = nextScan(source, (r) => r.filesRead.includes(file));
    clock.advance(1000);
    await scan;
    assert.deepEqual(hostsOf(store, 'a'), ['two']);
  });

  it('hands meshconfig.yaml to its callback instead of parsing it as resources', async () => {
    writeFileSync(join(dir, 'meshconfig.yaml'), 'trustDomain: example.org\n');
    const seen: (string | undefined)[] = [];
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, rescanIntervalMs: 0, onMeshConfig: (text) => seen.push(text) });
    const result = await source.start();
    assert.deepEqual(seen, ['trustDomain: example.org\n']);
    assert.deepEqual(result.problems, []);
    assert.equal(store.all().length, 0);
  });

  it('stops when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, rescanIntervalMs: 0, signal: ac.signal });
    await source.start();
    ac.abort();
    writeFileSync(join(dir, 'x.yaml'), vsYaml('x', ['x']));
    const result = await source.rescan();
    assert.equal(result.changes.length, 0);
    assert.equal(store.all().length, 0);
  });

  it('warns about a resource defined in two files while both define it', async () => {
    writeFileSync(join(dir, 'a.yaml'), vsYaml('same', ['from-a']));
    writeFileSync(join(dir, 'b.yaml'), vsYaml('same', ['from-b']));
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, rescanIntervalMs: 0, watch: false });
    const first = await source.start();
    assert.deepEqual(hostsOf(store, 'same'), ['from-b']);
    assert.equal(first.problems.length, 1);
    assert.equal(first.problems[0].file, join(dir, 'b.yaml'));
    assert.match(first.problems[0].message, /also defined in .*a\.yaml/);
    unlinkSync(join(dir, 'a.yaml'));
    const second = await source.rescan();
    assert.deepEqual(second.problems, []);
    assert.deepEqual(hostsOf(store, 'same'), ['from-b']);
  });

  it('debounces a burst of file events into one scan after the quiet period (manual clock)', async () => {
    const clock = new ManualClock();
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, clock, debounceMs: 100, rescanIntervalMs: 0 });
    await source.start();
    let scans = 0;
    source.onScan(() => scans++);
    writeFileSync(join(dir, 'a.yaml'), vsYaml('a', ['a']));
    await waitFor(() => clock.pendingTimers() > 0); // the event arrived and armed the debounce
    writeFileSync(join(dir, 'b.yaml'), vsYaml('b', ['b']));
    clock.advance(99);
    assert.equal(scans, 0);
    const scan = nextScan(source, () => true);
    clock.advance(10_000);
    const result = await scan;
    assert.equal(scans, 1);
    assert.ok(result.filesRead.includes(join(dir, 'a.yaml')));
    assert.ok(store.get('VirtualService', 'default', 'a'));
  });
});

/** Wait for a condition that file events make true (polls the event loop; fails after 10 s). */
async function waitFor(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
