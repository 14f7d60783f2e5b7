/**
 * `node bench/controlplane/profile-top.ts FILE.cpuprofile [N] [FROM-TO]`: the top N functions by self time
 * in a V8 CPU profile (from `node --cpu-prof`), with their share of the sampled time, and the
 * same grouped by file (which module the time goes to); optionally only seconds FROM to TO of
 * the profile (a per-second timeline of busy time is printed to find the window).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/controlplane/profile-top.ts FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
// Optional window in seconds from the profile's start: FROM-TO (see the timeline to choose one).
const windowArg = process.argv[4];
const [from, to] = windowArg ? windowArg.split('-').map((x) => Number(x) * 1e6) : [0, Infinity];
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const busyPerSecond: number[] = [];
let t = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const sec = Math.floor(t / 1e6);
  if (!idleIds.has(id)) busyPerSecond[sec] = (busyPerSecond[sec] ?? 0) + dt;
  if (t < from! || t > to!) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
process.stdout.write('busy ms per second of the profile: ' + Array.from(busyPerSecond, (us, s) => `${s}:${Math.round((us ?? 0) / 1e3)}`).join(' ') + '\n');

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/').replace(/^node:/, 'node:');
const fnKey = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const fileKey = (n: ProfileNode): string => {
  const u = shortUrl(n.callFrame.url);
  if (u === '') return n.callFrame.functionName; // (garbage collector), (program), (idle), native
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  return m ? `node_modules/${m[1]}` : u;
};

function table(key: (n: ProfileNode) => string, title: string): void {
  const sums = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const k = key(byId.get(id)!);
    sums.set(k, (sums.get(k) ?? 0) + us);
  }
  process.stdout.write(`\n${title} (sampled ${(total / 1e6).toFixed(1)} s)\n`);
  for (const [k, us] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}\n`);
  }
}
table(fnKey, 'self time by function');
table(fileKey, 'self time by file / package');
