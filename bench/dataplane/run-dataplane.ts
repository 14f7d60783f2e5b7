/**
 * `node bench/dataplane/run-dataplane.ts [--modes direct,relay-floor,sidecar,...] [--rates 1000]
 * [--seconds 8] [--warmup 2] [--idle-seconds N] [--pinning per-pod,shared] [--loadgen fortio,node] [--repeats N] [--prof DIR]
 * [--proxy-flags='--node-flag ...'] [--variant NAME=CHECKOUT[,--node-flag...]]... [--ztunnel-binary PATH] [--json FILE]`:
 * the data-plane part of `npm run bench` alone (root: it creates network namespaces). --prof writes
 * the proxies' --cpu-prof files to DIR. Each mode's proxies' memory is logged before load and after
 * it, and with --idle-seconds N again after N s without load (modes `ztunnel-100pods`: 100 pods on one ztunnel;
 * `istio-ztunnel`/`istio-ztunnel-1t`: Istio's ztunnel, --ztunnel-binary, with 2 or 1 worker threads). --pinning: which CPU placements to measure every mode
 * under (bench/dataplane/pinning.ts), in that order; rows carry `pinning`. --loadgen: fortio (Istio's
 * tool, fortio load → fortio server; built by scripts/fortio.sh) and/or the Node generator, interleaved;
 * --repeats: runs of each for the spread (summary: added P50/P90/P99 over `direct`). --variant adds a
 * mode `sidecar@NAME`: the mTLS sidecar pair with the proxies from another checkout (a git worktree of
 * the commit to compare) and/or other node flags; list modes twice (`sidecar,sidecar@B,sidecar,sidecar@B`)
 * to interleave an A/B in the same minutes.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runDataplaneBench, directMode, relayFloorMode, type Loadgen, type Mode } from './dataplane-bench.ts';
import { sidecarMode, sidecarModes } from './sidecar-modes.ts';
import { join, resolve } from 'node:path';
import { ISTIO_ZTUNNEL_BINARY, ztunnelModes } from './ztunnel-modes.ts';
import { waypointMode } from './waypoint-mode.ts';
import { pinningsFrom } from './pinning.ts';
import { findFortio } from './fortio-load.ts';
import { summarize, summaryLines } from './dataplane-summary.ts';

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
    loadgen: { type: 'string', default: 'fortio,node' },
    repeats: { type: 'string', default: '1' },
    variant: { type: 'string', multiple: true, default: [] },
    'idle-seconds': { type: 'string', default: '0' },
    'ztunnel-binary': { type: 'string', default: ISTIO_ZTUNNEL_BINARY },
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
const variants: Mode[] = values.variant.map((v) => {
  const eq = v.indexOf('=');
  const [checkout, ...flags] = v.slice(eq + 1).split(',');
  return sidecarMode({
    name: `sidecar@${v.slice(0, eq)}`, clientSidecar: true, serverSidecar: true, mtls: true,
    proxyCli: checkout ? join(resolve(checkout), 'bin', 'mizzen.js') : undefined,
    nodeFlags: () => [...nodeFlags(), ...flags],
  });
});
const all: Mode[] = [directMode, relayFloorMode, ...sidecarModes({ nodeFlags }), ...variants, ...ztunnelModes({ istioBinary: values['ztunnel-binary'] }), waypointMode()];
const wanted = values.modes.split(',');
const modes = wanted.map((n) => {
  const m = all.find((x) => x.name === n);
  if (!m) throw new Error(`unknown mode ${n} (known: ${all.map((x) => x.name).join(', ')})`);
  return m;
});
log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const loadgens = values.loadgen.split(',') as Loadgen[];
const fortio = loadgens.some((l) => l !== 'node') ? findFortio({ install: true, log }) : undefined;
const rows = await runDataplaneBench({
  modes,
  pinnings: pinningsFrom(values.pinning),
  rates: values.rates.split(',').map(Number),
  loadgens: fortio ? loadgens : loadgens.filter((l) => l === 'node'),
  fortio,
  repeats: Number(values.repeats),
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  idleSeconds: Number(values['idle-seconds']),
  log,
});
log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const line of summaryLines(summarize(rows))) log(line);
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
