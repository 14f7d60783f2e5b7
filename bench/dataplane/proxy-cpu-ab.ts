/**
 * `node bench/dataplane/proxy-cpu-ab.ts --variant A=/repo/a --variant B=/repo/b[,--node-flag]
 *   [--rounds 5] [--seconds 10] [--warmup 5] [--rps 1000]`
 *
 * Proxy CPU per request, A/B at the same moment: a client+server sidecar pair (loopback, static
 * xDS, mTLS between them; bench/dataplane/loopback-pair.ts) per variant, all in front of one 1 KB
 * backend, warmed up together (JIT), then `--rounds` rounds in which every pair carries its own
 * constant-rate load (HTTP/1.1, 1 KB, 4 connections) at the same time, so the machine's noise
 * (other jobs on this shared VM) falls on every variant alike. Per round: each proxy's CPU
 * (user+system from /proc) per 1,000 rps and its ratio to the first variant; then the medians.
 * No root needed.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startLoopbackPair, startProcess, stopProcess, type LoopbackPair } from './loopback-pair.ts';
import { cpuSeconds } from './process-stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    rps: { type: 'string', default: '1000' },
  },
});
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const variants = values.variant.map((v) => {
  const eq = v.indexOf('=');
  const [repo, ...nodeFlags] = v.slice(eq + 1).split(',');
  return { name: v.slice(0, eq), repo, nodeFlags };
});
if (variants.length < 2) {
  log('usage: proxy-cpu-ab.ts --variant A=/repo/a --variant B=/repo/b[,--node-flag...] [--rounds 5] [--seconds 10]');
  process.exit(2);
}
const rps = Number(values.rps);

function load(port: number, seconds: number): Promise<{ achieved_rps: number; errors: number; p90_ms: number }> {
  return new Promise((resolve, reject) => {
    const args = { host: '127.0.0.1', port, rps, connections: 4, seconds, warmupSeconds: 0.5, payloadBytes: 1024, path: '/bench', hostHeader: 'server.default.svc.cluster.local:9080' };
    const c = spawn(process.execPath, [join(here, 'load-generator.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}: ${out}`))));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const backendPort = await freePort();
const backend = await startProcess([join(here, 'http-backend.ts'), String(backendPort), '127.0.0.1'], /ready/);
const pairs: LoopbackPair[] = [];
try {
  for (const v of variants) pairs.push(await startLoopbackPair(v.repo, backendPort, v.nodeFlags));
  log(`warm-up ${values.warmup} s (all pairs at once); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await Promise.all(pairs.map((p) => load(p.port, Number(values.warmup))));
  const cpu: number[][][] = variants.map(() => []); // [variant][round] = [client, server]
  for (let round = 0; round < Number(values.rounds); round++) {
    const procs = pairs.map((p) => [p.client.pid!, p.server.pid!]);
    const before = procs.map((ps) => ps.map(cpuSeconds));
    const t0 = performance.now();
    const order = round % 2 === 0 ? pairs.map((_, i) => i) : pairs.map((_, i) => pairs.length - 1 - i);
    const results = new Array<{ achieved_rps: number; errors: number; p90_ms: number }>(pairs.length);
    await Promise.all(order.map(async (i) => (results[i] = await load(pairs[i].port, Number(values.seconds)))));
    const wall = (performance.now() - t0) / 1000;
    const line: string[] = [];
    procs.forEach((ps, i) => {
      const c = ps.map((pid, j) => (cpuSeconds(pid) - before[i][j]) / wall / (results[i].achieved_rps / 1000));
      cpu[i].push(c);
      const ratio = i === 0 ? '' : ` (×${(c[0] / cpu[0][round][0]).toFixed(3)} / ×${(c[1] / cpu[0][round][1]).toFixed(3)})`;
      line.push(`${variants[i].name} ${c.map((x) => x.toFixed(3)).join(' / ')}${ratio} p90 ${results[i].p90_ms.toFixed(2)} ms err ${results[i].errors}`);
    });
    log(`round ${round + 1}: ${line.join(' | ')} | load ${loadavg()[0].toFixed(2)}`);
  }
  log('');
  log(`medians over ${values.rounds} rounds, vCPU per 1,000 rps (client / server proxy), ratio to ${variants[0].name} per round then median:`);
  log('| variant | client | server | client ratio | server ratio |');
  log('| --- | --- | --- | --- | --- |');
  variants.forEach((v, i) => {
    const ratios = [0, 1].map((j) => median(cpu[i].map((c, r) => c[j] / cpu[0][r][j])));
    log(`| ${v.name} | ${median(cpu[i].map((c) => c[0])).toFixed(3)} | ${median(cpu[i].map((c) => c[1])).toFixed(3)} | ${ratios[0].toFixed(3)} | ${ratios[1].toFixed(3)} |`);
  });
} finally {
  for (const p of pairs) await p.stop();
  await stopProcess(backend);
}
