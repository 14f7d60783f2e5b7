/**
 * `npm run bench [-- --quick] [--json FILE]`: data plane (network-namespace pods), control plane
 * convergence and CA issuance, each measured against a baseline taken in the same run.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { parseArgs } from 'node:util';
import { runDataplaneBench, directMode, relayFloorMode } from './dataplane/dataplane-bench.ts';

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
  log('\n== data plane (client pod → server pod, HTTP/1.1, 1 KB, 4 connections) ==');
  result.dataplane = await runDataplaneBench({
    modes: [directMode, relayFloorMode],
    rates: quick ? [1000] : [500, 1000, 1500],
    seconds: quick ? 8 : 20,
    warmupSeconds: 2,
    log,
  });
}

if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
