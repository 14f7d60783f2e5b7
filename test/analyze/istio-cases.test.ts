import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CASES_FILE, EXTRA_CASES_FILE, loadCases, runCase } from './istio-cases.ts';

const cases = loadCases();

describe("Istio's analyzer test cases", () => {
  if (!cases) {
    it('are skipped', (t) => t.skip(`${CASES_FILE} is missing`));
    return;
  }
  let passed = 0;
  for (const c of cases) {
    it(`${c.analyzer}: ${c.name}`, (t) => {
      const out = runCase(c);
      if (!out.supported) {
        t.skip(`analyzer ${c.analyzer} not implemented${c.multicluster ? ' (multicluster)' : ''}`);
        return;
      }
      assert.deepEqual({ missing: out.missing, extra: out.extra }, { missing: [], extra: [] });
      passed++;
    });
  }
  it('reports how many cases pass', (t) => {
    t.diagnostic(`${passed}/${cases.length} Istio analyzer cases pass`);
    assert.ok(passed * 2 >= cases.length, `only ${passed}/${cases.length} cases pass`);
  });
});

describe("Istio's analyzer test cases (earlier test table)", () => {
  const extra = loadCases(EXTRA_CASES_FILE);
  if (!extra) {
    it('are skipped', (t) => t.skip(`${CASES_FILE} is missing`));
    return;
  }
  for (const c of extra) {
    it(`${c.analyzer}: ${c.name}`, () => {
      const out = runCase(c);
      assert.ok(out.supported, `analyzer ${c.analyzer} exists`);
      assert.deepEqual({ missing: out.missing, extra: out.extra }, { missing: [], extra: [] });
    });
  }
});
