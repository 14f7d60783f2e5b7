import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import { FileSource, type ScanResult } from '../../src/control/config/sources/file-source.ts';
import type { ResourceValidator } from '../../src/control/config/sources/resource-validator.ts';

const validate: ResourceValidator = () => ({ errors: [], warnings: [] });

const vs = (hosts: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec: {hosts: [${hosts}], http: [{route: [{destination: {host: reviews}}]}]}\n`;

function hostsOf(store: ConfigStore): unknown {
  return (store.get('VirtualService', 'default', 'reviews')?.spec as { hosts?: unknown } | undefined)?.hosts;
}

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

describe('FileSource with its default (short) debounce', () => {
  let dir: string;
  let source: FileSource | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mizzen-fs-partial-'));
  });
  afterEach(() => {
    source?.close();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the last valid version while a file is half written in place, then serves the completed file', async () => {
    const file = join(dir, 'vs.yaml');
    writeFileSync(file, vs('reviews'));
    const store = new ConfigStore();
    source = new FileSource({ paths: [dir], store, validate, rescanIntervalMs: 0 });
    await source.start();
    assert.deepEqual(hostsOf(store), ['reviews']);

    // A slow writer: truncate and write the first half, pause (the scan runs), then the rest.
    const text = vs('reviews, reviews.default');
    const cut = text.indexOf('hosts:') + 10;
    const fd = openSync(file, 'w');
    try {
      const partial = nextScan(source, (r) => r.filesRead.includes(file));
      writeSync(fd, text.slice(0, cut));
      const half = await partial;
      assert.ok(half.problems.some((p) => p.level === 'error' && p.file === file), 'the partial file is reported');
      assert.deepEqual(hostsOf(store), ['reviews'], 'the last valid version keeps serving');
      const complete = nextScan(source, (r) => r.filesRead.includes(file) && r.problems.length === 0);
      writeSync(fd, text.slice(cut));
      await complete;
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(hostsOf(store), ['reviews', 'reviews.default']);
  });
});
