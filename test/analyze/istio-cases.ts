import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyze, analyzeClusters, selectAnalyzers } from '../../src/control/analyze/analyze.ts';
import { messageType } from '../../src/control/analyze/message-catalog.ts';
import { readMeshFile } from '../../src/control/analyze/mesh-config-file.ts';
import { readConfigFiles } from '../../src/control/config/read-config-files.ts';

/** Istio's published analyzer cases (../shared/istio/analyze-expected.json), read by the tests. */
export const CORPUS = join(import.meta.dirname, '../../../shared/istio');
export const CASES_FILE = join(CORPUS, 'analyze-expected.json');

export interface IstioCase {
  name: string;
  analyzer: string;
  inputFiles?: string[];
  meshConfigFile?: string;
  meshNetworksFile?: string;
  multicluster?: boolean;
  cluster1InputFiles?: string[];
  cluster2InputFiles?: string[];
  expected: { code: string; name: string; level: string; resource: string }[];
}

/** More cases kept with the tests (facts from an earlier version of Istio's test table). */
export const EXTRA_CASES_FILE = join(import.meta.dirname, 'istio-cases-extra.json');

export function loadCases(file = CASES_FILE): IstioCase[] | undefined {
  if (!existsSync(CASES_FILE) || !existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { cases: IstioCase[] }).cases;
}

export interface CaseOutcome {
  supported: boolean;
  pass: boolean;
  missing: string[];
  extra: string[];
}

/** Run one case as Istio's test does: only the named analyzer, compared as a multiset of code+resource. */
export function runCase(c: IstioCase): CaseOutcome {
  const { analyzers } = selectAnalyzers([c.analyzer]);
  const analyzer = analyzers[0];
  if (!analyzer) return { supported: false, pass: false, missing: [], extra: [] };
  const read = (files: string[] | undefined): ReturnType<typeof readConfigFiles>['resources'] => readConfigFiles((files ?? []).map((f) => join(CORPUS, f))).resources;
  const meshConfig = c.meshConfigFile ? readMeshFile(join(CORPUS, c.meshConfigFile), 'mesh') : undefined;
  const meshNetworks = c.meshNetworksFile ? readMeshFile(join(CORPUS, c.meshNetworksFile), 'meshNetworks') : undefined;
  const codes = new Set(analyzer.messages.map((n) => messageType(n).code));
  for (const e of c.expected) codes.add(e.code);
  const options = { analyzers: [c.analyzer], meshConfig, meshNetworks };
  const messages = c.multicluster
    ? analyzeClusters([{ id: 'cluster1', resources: read(c.cluster1InputFiles) }, { id: 'cluster2', resources: read(c.cluster2InputFiles) }], options)
    : analyze(read(c.inputFiles), options);
  const got = messages
    .filter((m) => codes.has(m.code))
    .map((m) => `${m.code} ${m.resource}`);
  const want = c.expected.map((e) => `${e.code} ${e.resource}`);
  const missing = [...want];
  const extra: string[] = [];
  for (const g of got) {
    const i = missing.indexOf(g);
    if (i >= 0) missing.splice(i, 1);
    else extra.push(g);
  }
  return { supported: true, pass: missing.length === 0 && extra.length === 0, missing, extra };
}
