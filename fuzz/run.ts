/**
 * `npm run fuzz -- [--minutes N] [--target NAME,...] [--seed S] [--save-corpus] [--json FILE]`:
 * coverage-guided mutation fuzzing of every target for N minutes in all (split evenly), from the
 * committed seed corpus under fuzz/corpus/TARGET plus what long runs kept in fuzz/corpus-long/TARGET.
 * Findings go to fuzz/findings/ (input + stack); `--save-corpus` adds the inputs that found new
 * coverage to fuzz/corpus-long/TARGET (the smoke run in `npm test` uses fuzz/corpus only). Exit 1 on any
 * finding. Prints one line per target: inputs tried, corpus, coverage features, findings.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fuzz, type FuzzReport } from './engine/fuzz-loop.ts';
import { TARGETS } from './targets/index.ts';

const root = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    target: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'save-corpus': { type: 'boolean', default: false },
    json: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});
if (values.list) {
  for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(16)} ${t.description}\n`);
  process.exit(0);
}
const wanted = values.target ? new Set(values.target.split(',')) : undefined;
const targets = TARGETS.filter((t) => !wanted || wanted.has(t.name));
if (targets.length === 0) {
  process.stderr.write(`no such target: ${values.target} (see --list)\n`);
  process.exit(2);
}
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const perTargetMs = (minutes * 60_000) / targets.length;
const started = new Date().toISOString();
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
process.stdout.write(`fuzz: ${targets.length} target(s), ${minutes} min, seed ${seed}, started ${started}, load ${load()}\n`);
const reports: (FuzzReport & { loadAfter: string })[] = [];
for (const t of targets) {
  const r = await fuzz(t, {
    seed,
    maxMs: perTargetMs,
    corpusDir: [join(root, 'corpus', t.name), join(root, 'corpus-long', t.name)],
    saveCorpusDir: values['save-corpus'] ? join(root, 'corpus-long', t.name) : undefined,
    findingsDir: join(root, 'findings', t.name),
  });
  reports.push({ ...r, loadAfter: load() });
  process.stdout.write(`${t.name.padEnd(16)} inputs ${String(r.runs).padStart(8)}  (${Math.round(r.runs / (r.ms / 1000))}/s)  corpus ${r.seeds}->${r.corpus}  features ${r.features}  findings ${r.findings.length}  load ${load()}\n`);
  for (const f of r.findings) process.stdout.write(`  ${f.kind}: ${f.message.split('\n').slice(0, 4).join(' | ')}\n    input: ${f.file ?? JSON.stringify(f.input.toString('latin1').slice(0, 200))}\n`);
}
const total = reports.reduce((n, r) => n + r.findings.length, 0);
process.stdout.write(`fuzz: ${reports.reduce((n, r) => n + r.runs, 0)} inputs, ${total} finding(s), finished ${new Date().toISOString()}, load ${load()}\n`);
if (values.json) writeFileSync(values.json, JSON.stringify({ started, minutes, seed, reports: reports.map(({ findings, ...r }) => ({ ...r, findings: findings.map((f) => ({ kind: f.kind, message: f.message.split('\n')[0], file: f.file })) })) }, null, 2));
process.exit(total === 0 ? 0 : 1);
