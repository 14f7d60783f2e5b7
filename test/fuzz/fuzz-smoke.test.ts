import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fuzz, readCorpus, replay } from '../../fuzz/engine/fuzz-loop.ts';
import { TARGETS } from '../../fuzz/targets/index.ts';

/**
 * The short seeded fuzz run of `npm test`: every target from its committed seed corpus for a
 * fixed number of inputs (seed 1, so the same inputs every time), then every committed
 * regression input (what earlier runs found) replayed. `npm run fuzz -- --minutes N` is the long run.
 */
const FUZZ = join(fileURLToPath(import.meta.url), '..', '..', '..', 'fuzz');
const RUNS: Record<string, number> = { 'http1-request': 600, csr: 600, 'config-yaml': 40, 'xds-apply': 200, 'http1-proxy': 150, 'http2-proxy': 150, 'hbone-connect': 80 };

describe('fuzzing: short seeded run of every target (coverage-guided, V8 block coverage)', () => {
  for (const target of TARGETS) {
    it(`${target.name}: seeds and ${RUNS[target.name] ?? 100} mutated inputs, no finding`, async () => {
      const r = await fuzz(target, { seed: 1, maxRuns: RUNS[target.name] ?? 100, corpusDir: join(FUZZ, 'corpus', target.name) });
      assert.ok(r.seeds > 0, 'a committed seed corpus');
      assert.equal(r.runs, RUNS[target.name] ?? 100);
      assert.ok(r.features > 0, 'coverage is collected from the target');
      assert.deepEqual(r.findings.map((f) => `${f.kind}: ${f.message.split('\n')[0]}`), []);
    });
  }

  it('coverage guides the search: new blocks add inputs to the corpus', async () => {
    const target = TARGETS.find((t) => t.name === 'http1-request')!;
    const r = await fuzz(target, { seed: 7, maxRuns: 400, corpusDir: join(FUZZ, 'corpus', target.name) });
    assert.ok(r.corpus > r.seeds, `corpus ${r.seeds} -> ${r.corpus}`);
  });

  for (const target of TARGETS) {
    const inputs = readCorpus(join(FUZZ, 'regressions', target.name));
    if (inputs.length === 0) continue;
    it(`${target.name}: ${inputs.length} regression input(s) found by earlier runs stay fixed`, async () => {
      const findings = await replay(target, inputs);
      assert.deepEqual(findings.map((f) => f.message.split('\n')[0]), []);
    });
  }
});
