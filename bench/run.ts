/**
 * `npm run bench [-- --quick] [--json FILE]`: data plane (network-namespace pods), control plane
 * convergence and CA issuance, each measured against a baseline taken in the same run.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runDataplaneBench, directMode, relayFloorMode } from './dataplane/dataplane-bench.ts';
import { sidecarModes } from './dataplane/sidecar-modes.ts';
import { findFortio } from './dataplane/fortio-load.ts';
import { summarize, summaryLines } from './dataplane/dataplane-summary.ts';
import { runControlplaneBench } from './controlplane/controlplane-bench.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const only = new Set((values.only ?? 'dataplane,controlplane,ca').split(','));
const log = (line: string): void => void process.stdout.write(line + '\n');

if (process.getuid?.() !== 0) {
  log('npm run bench needs root (it creates network namespaces for the data-plane pods).');
  process.exit(1);
}

const machine = {
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  mem_gb: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  date: new Date().toISOString(),
  quick,
};
const result: Record<string, unknown> = { machine };
log(`machine: ${JSON.stringify(machine)}`);

if (only.has('dataplane')) {
  log('\n== data plane (client pod → server pod, HTTP/1.1, 1 KB, 4 connections; Node generator and fortio) ==');
  const fortio = findFortio({ install: true, log });
  const MAIN = ['direct', 'relay-floor', 'sidecar'];
  const rows = await runDataplaneBench({
    modes: [directMode, relayFloorMode, ...sidecarModes()],
    rates: quick ? [1000] : [500, 1000, 1500],
    // fortio (Istio's tool, the headline) and the Node generator interleaved on the same set-up;
    // the main modes repeated for the spread
    loadgens: fortio ? ['fortio', 'node'] : ['node'],
    fortio,
    repeatsFor: (mode) => (MAIN.includes(mode) ? (quick ? 2 : 3) : 1),
    seconds: quick ? 8 : 20,
    warmupSeconds: 2,
    // both pinnings for direct, the floor and the sidecar pair (bench/dataplane/pinning.ts; per-pod
    // is the headline); the one-sided and plaintext modes per-pod only (quick under 5 minutes,
    // full under 30)
    pinningsFor: (mode, all) => (['direct', 'relay-floor', 'sidecar'].includes(mode) ? all : all.slice(0, 1)),
    log,
  });
  const summary = summarize(rows);
  log('\n-- added by each path over plain (same run, same pinning and generator; range over runs) --');
  for (const line of summaryLines(summary)) log(line);
  result.dataplane = rows;
  result.dataplane_summary = summary;
}

if (only.has('controlplane')) {
  log('\n== control plane (ADS simulator; 1,000 services × 10 endpoints; EDS/RDS by name as Envoy, then wildcard) ==');
  const controlplane = [];
  for (const subscribe of ['named', 'wildcard'] as const) {
    controlplane.push(...(await runControlplaneBench({
      proxies: quick ? [1000] : [100, 1000, 10000],
      shape: { services: 1000, endpointsPerService: 10, namespace: 'bench' },
      subscribe,
      log,
    })));
  }
  result.controlplane = controlplane;
}

if (only.has('ca') && existsSync(new URL('./ca-bench.ts', import.meta.url))) {
  log('\n== CA (CSR verification + signing) ==');
  const out = execFileSync(process.execPath, [new URL('./ca-bench.ts', import.meta.url).pathname, String(quick ? 2000 : 10000)], { encoding: 'utf8' });
  result.ca = JSON.parse(out.trim().split('\n').pop()!);
  log(`  ${JSON.stringify(result.ca)}`);
}

if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
