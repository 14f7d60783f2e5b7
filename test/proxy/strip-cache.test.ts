import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

// bin/strip-cache.js is plain JavaScript (it must not need the TypeScript stripper itself).
const specifier: string = new URL('../../bin/strip-cache.js', import.meta.url).href;
const { strippedSource, fillStripCache } = (await import(specifier)) as {
  strippedSource: (file: string, srcRoot: string, cacheRoot: string) => string;
  fillStripCache: (srcRoot: string, cacheRoot: string) => number;
};

describe('strip cache (bin/strip-cache.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-strip-'));
  const src = join(dir, 'src');
  const cache = join(dir, 'cache');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('strips types keeping every position, caches the result and re-strips when the source changes', () => {
    execFileSync('mkdir', ['-p', join(src, 'a')]);
    const file = join(src, 'a', 'x.ts');
    writeFileSync(file, "import type { T } from './t.ts';\nexport const n: number = 1;\nexport function f(x: string): string { return x; }\n");
    const js = strippedSource(file, src, cache);
    assert.match(js, /^export const n +=\s1;$/m);
    assert.equal(js.split('\n')[2], 'export function f(x        )         { return x; }'); // same columns as the source
    assert.ok(existsSync(join(cache, 'a', 'x.ts.js')));
    assert.equal(strippedSource(file, src, cache), js);
    writeFileSync(file, 'export const n: number = 2;\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.match(strippedSource(file, src, cache), /^export const n +=\s2;$/m);
    assert.match(readFileSync(join(cache, 'a', 'x.ts.js'), 'utf8'), /= 2;/);
  });

  it('fills the cache for every non-test source file', () => {
    writeFileSync(join(src, 'a', 'y.test.ts'), 'export {};\n');
    writeFileSync(join(src, 'z.ts'), 'export const z: string = "z";\n');
    assert.equal(fillStripCache(src, cache), 2);
    assert.ok(existsSync(join(cache, 'z.ts.js')));
    assert.ok(!existsSync(join(cache, 'a', 'y.test.ts.js')));
  });
});
