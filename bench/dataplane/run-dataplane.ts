/**
 * `node bench/dataplane/run-dataplane.ts [--modes direct,relay-floor,sidecar,...] [--rates 1000]
 * [--seconds 8] [--warmup 2] [--pinning per-pod,shared] [--prof DIR] [--proxy-flags='--node-flag ...'] [--json FILE]`:
 * the data-plane part of `npm run bench` alone (root: it creates network namespaces). --prof writes
 * the proxies' --cpu-prof files to DIR. --pinning: which CPU placements to measure every mode
 * under (bench/dataplane/pinning.ts), in that order; rows carry `pinning`.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runDataplaneBench, directMode, relayFloorMode, type Mode } from './dataplane-bench.ts';
import { sidecarModes } from './sidecar-modes.ts';
import { ztunnelModes } from './ztunnel-modes.ts';
import { waypointMode } from './waypoint-mode.ts';
import { pinningsFrom } from './pinning.ts';

const { values } = parseArgs({
  options: {
    modes: { type: 'string', default: 'direct,relay-floor,sidecar,sidecar-nomtls,client-sidecar,server-sidecar' },
    rates: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    prof: { type: 'string' },
    json: { type: 'string' },
    'proxy-flags': { type: 'string', default: '' },
    pinning: { type: 'string', default: 'per-pod,shared' },
  },
});
const log = (line: string): void => void process.stdout.write(line + '\n');
if (process.getuid?.() !== 0) {
  log('run-dataplane needs root (network namespaces, nft, uid 1337 for the sidecars)');
  process.exit(1);
}
const prof = values.prof;
if (prof) {
  mkdirSync(prof, { recursive: true });
  chmodSync(prof, 0o777);
}
const proxyFlags = values['proxy-flags'].split(' ').filter(Boolean);
const nodeFlags = (): string[] => [...proxyFlags, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [])];
const all: Mode[] = [directMode, relayFloorMode, ...sidecarModes({ nodeFlags }), ...ztunnelModes(), waypointMode()];
const wanted = values.modes.split(',');
const modes = wanted.map((n) => {
  const m = all.find((x) => x.name === n);
  if (!m) throw new Error(`unknown mode ${n} (known: ${all.map((x) => x.name).join(', ')})`);
  return m;
});
log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const rows = await runDataplaneBench({ modes, pinnings: pinningsFrom(values.pinning), rates: values.rates.split(',').map(Number), seconds: Number(values.seconds), warmupSeconds: Number(values.warmup), log });
log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
