/**
 * `npm run chaos [-- --only NAME,...] [--quick] [--qps N] [--connections N] [--idle-connections N] [--json FILE] [--list]`: the chaos
 * suite. Each scenario gets its own `mizzen up` mesh (network-namespace pods with sidecars), runs
 * fortio at a fixed rate through a sidecar pair while it breaks something, and reports requests
 * sent / failed / p99 / recovery time. Every mesh is taken down and checked gone (processes,
 * namespaces, nft tables, routes) whatever happens, also on Ctrl-C. Needs root and Linux; builds
 * fortio through scripts/fortio.sh when it is missing. Exit 1 when a scenario misses its
 * expectation or fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listNetns } from '../src/runtime/netns.ts';
import { meshRunDir } from '../src/runtime/runtime-state.ts';
import { ChaosMesh, REPO } from './chaos-mesh.ts';
import { FORTIO, killLabelled } from './fortio-load.ts';
import { loadAverage, type ScenarioContext, type ScenarioResult } from './scenario.ts';
import { SCENARIOS } from './scenarios.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    qps: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '16' },
    'idle-connections': { type: 'string' },
    json: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});
const log = (line: string): void => void process.stdout.write(`${line}\n`);
if (values.list) {
  for (const s of SCENARIOS) log(`${s.name.padEnd(16)} ${s.title}`);
  process.exit(0);
}
if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  log('npm run chaos needs root on Linux (it runs `mizzen up`: network namespaces, nft).');
  process.exit(1);
}
const wanted = values.only ? new Set(values.only.split(',')) : undefined;
const selected = SCENARIOS.filter((s) => !wanted || wanted.has(s.name));
if (selected.length === 0) {
  log(`no such scenario: ${values.only} (see --list)`);
  process.exit(2);
}
if (!existsSync(FORTIO)) {
  log('fortio is missing: building it with scripts/fortio.sh (go install, cached)');
  execFileSync('bash', [join(REPO, 'scripts/fortio.sh')], { stdio: 'inherit' });
}

const label = `mizzen-chaos-${process.pid}`;
const machine = { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
const started = new Date().toISOString();
log(`chaos: ${selected.length} scenario(s), ${values.qps} rps, ${values.quick ? 'quick' : 'full'} phases, started ${started}, load ${loadAverage()}`);
log(`machine: ${JSON.stringify(machine)}`);

/** The meshes and loads of the scenario running now: what cleanup must undo. */
let current: { mesh: ChaosMesh; ctx: ScenarioContext; dir: string } | undefined;
const leftoversOf: string[] = [];

async function cleanup(): Promise<void> {
  const c = current;
  current = undefined;
  if (!c) return;
  for (const l of c.ctx.loads) l.stop();
  killLabelled(label);
  // a frozen discovery would hold `mizzen down` up until its grace period ends
  const d = c.mesh.discoveryPid();
  if (d) {
    try {
      process.kill(d, 'SIGCONT');
    } catch {
      // gone
    }
  }
  if (existsSync(c.mesh.stateDir)) {
    const r = await c.mesh.down();
    if (r.code !== 0) log(`  mizzen down failed: ${r.stderr.trim()}`);
  }
  if (c.mesh.prefix) {
    const left = (await listNetns()).filter((n) => n.startsWith(`${c.mesh.prefix}-`));
    if (existsSync(meshRunDir(c.mesh.prefix))) left.push(meshRunDir(c.mesh.prefix));
    if (left.length > 0) leftoversOf.push(`${c.mesh.prefix}: ${left.join(', ')}`);
  }
  rmSync(c.dir, { recursive: true, force: true });
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${sig}: taking the mesh down`);
    void cleanup().finally(() => process.exit(130));
  });
}

const results: (ScenarioResult | { scenario: string; error: string; loadAverage: string })[] = [];
for (const s of selected) {
  if (interrupted) break;
  const dir = mkdtempSync(join(tmpdir(), `mizzen-chaos-${s.name}-`));
  const mesh = new ChaosMesh(dir);
  const ctx: ScenarioContext = { mesh, qps: Number(values.qps), connections: Number(values.connections), quick: values.quick ?? false, label, log, loads: [], ...(values['idle-connections'] ? { idleConnections: Number(values['idle-connections']) } : {}) };
  current = { mesh, ctx, dir };
  log(`\n## ${s.name}: ${s.title} (load ${loadAverage()})`);
  try {
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(join(dir, 'mesh', 'mesh.yaml'), s.manifests({ quick: ctx.quick }));
    s.prepare?.(mesh.stateDir);
    await mesh.up(join(dir, 'mesh'));
    log(`  mesh ${mesh.prefix} up`);
    const r = { ...(await s.run(ctx)), mesh: mesh.prefix };
    results.push(r);
    log(`  ${r.passed ? 'PASS' : 'FAIL'}: sent ${r.sent}, failed ${r.failed}, p99 ${r.p99Ms} ms; ${r.recovery}; nothing lost: ${r.nothingLost ? 'yes' : 'no'}; load ${r.loadAverage}`);
    for (const n of r.notes) log(`    ${n}`);
  } catch (err) {
    results.push({ scenario: s.title, error: (err as Error).stack ?? String(err), loadAverage: loadAverage() });
    log(`  ERROR: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await cleanup();
  }
}

log('\n| scenario | load | requests sent | failed | p99 | recovery | nothing lost | load avg |');
log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  if ('error' in r) log(`| ${r.scenario} | | | | | error: ${r.error.split('\n')[0]} | | ${r.loadAverage} |`);
  else log(`| ${r.scenario} | ${r.load} | ${r.sent} | ${r.failed} | ${r.p99Ms} ms | ${r.recovery} | ${r.nothingLost ? 'yes' : 'no'} | ${r.loadAverage} |`);
}
if (leftoversOf.length > 0) log(`\nLEFT BEHIND: ${leftoversOf.join('; ')}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ started, finished: new Date().toISOString(), machine, qps: Number(values.qps), quick: values.quick, results, leftovers: leftoversOf }, null, 2));
const ok = results.every((r) => !('error' in r) && r.passed) && leftoversOf.length === 0 && !interrupted;
process.exit(ok ? 0 : 1);
