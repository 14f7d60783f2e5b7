import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { refreshStripCache } from '../../src/cli/strip-cache-refresh.ts';

describe('mizzen up / mizzen node refresh the type-stripped cache before starting proxies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mz-strip-refresh-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs strip-cache.js beside the CLI entry (so 1337 sidecars never load the TypeScript stripper)', () => {
    writeFileSync(join(dir, 'strip-cache.js'), `require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'ran'))}, 'yes');`);
    assert.equal(refreshStripCache(join(dir, 'mizzen.js')), undefined);
    assert.equal(readFileSync(join(dir, 'ran'), 'utf8'), 'yes');
  });

  it('says why when it cannot (the proxies still start, only heavier)', () => {
    writeFileSync(join(dir, 'strip-cache.js'), 'process.exit(3)');
    assert.match(refreshStripCache(join(dir, 'mizzen.js')) ?? '', /Command failed/);
  });
});
