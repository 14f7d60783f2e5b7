/**
 * `node bench/dataplane/profile-split.ts FILE.cpuprofile [--requests N] [--window FROM-TO] [--top 30]`:
 * where a proxy's CPU goes, computed over BUSY time only (idle samples are left out of every
 * share). Prints (program) / (garbage collector) / JavaScript, then inclusive time per event-loop
 * entry (the root's children: stream reads, ticks, timers, ...), self time by area (our src/,
 * node: internals, native bindings, packages) and the top functions. With --requests (requests
 * the proxy served in the window) every figure is also given as µs per request. The window
 * (seconds from the profile's start) defaults to the busiest contiguous stretch.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

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

const { values, positionals } = parseArgs({ allowPositionals: true, options: { requests: { type: 'string' }, window: { type: 'string' }, top: { type: 'string', default: '30' } } });
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node bench/dataplane/profile-split.ts FILE.cpuprofile [--requests N] [--window FROM-TO] [--top 30]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const rootId = profile.nodes.find((n) => !parent.has(n.id))!.id;
const name = (id: number): string => byId.get(id)!.callFrame.functionName;

// per-second busy time, to find the loaded stretch
const busyPerSecond: number[] = [];
let t = 0;
const times: number[] = [];
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i] ?? 0;
  times.push(t);
  const s = Math.floor(t / 1e6);
  if (name(id) !== '(idle)') busyPerSecond[s] = (busyPerSecond[s] ?? 0) + (profile.timeDeltas[i + 1] ?? 0);
});
let from: number;
let to: number;
if (values.window) [from, to] = values.window.split('-').map((x) => Number(x) * 1e6) as [number, number];
else {
  // the longest run of seconds busier than 30 ms (load; startup is one short burst), minus one second at each end
  let best = [0, 0];
  let start = -1;
  for (let s = 0; s <= busyPerSecond.length; s++) {
    const hot = (busyPerSecond[s] ?? 0) > 30e3;
    if (hot && start < 0) start = s;
    if (!hot && start >= 0) {
      if (s - start > best[1] - best[0]) best = [start, s];
      start = -1;
    }
  }
  from = (best[0] + 1) * 1e6;
  to = Math.max(from + 1e6, (best[1] - 1) * 1e6);
}

// a sample's duration is the delta to the next sample
const self = new Map<number, number>();
let wall = 0;
for (let i = 0; i < profile.samples.length; i++) {
  if (times[i] < from || times[i] >= to) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  wall += dt;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}
let idle = 0;
for (const [id, us] of self) if (name(id) === '(idle)') idle += us;
const busy = wall - idle;
const requests = values.requests ? Number(values.requests) : undefined;
const out = (s: string): void => void process.stdout.write(`${s}\n`);
const fmt = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)} %${requests ? `  ${(us / requests).toFixed(2).padStart(7)} µs/req` : ''}  ${(us / 1e3).toFixed(0).padStart(6)} ms`;

out(`window ${(from / 1e6).toFixed(0)}-${(to / 1e6).toFixed(0)} s: wall ${(wall / 1e6).toFixed(2)} s, busy ${(busy / 1e3).toFixed(0)} ms (${((100 * busy) / wall).toFixed(1)} % of one core)${requests ? `, ${(busy / requests).toFixed(1)} µs busy per request` : ''}`);
out('busy ms per second of the profile: ' + Array.from(busyPerSecond, (us, s) => `${s}:${Math.round((us ?? 0) / 1e3)}`).join(' '));

// shares of busy time: (program), (garbage collector), everything under JS entries
const special = new Map<string, number>();
for (const [id, us] of self) {
  const n = name(id);
  if (n === '(program)' || n === '(garbage collector)') special.set(n, (special.get(n) ?? 0) + us);
}
out('\nshare of busy time');
for (const [k, us] of special) out(`${fmt(us)}  ${k}`);
const js = busy - [...special.values()].reduce((a, b) => a + b, 0);
out(`${fmt(js)}  JavaScript and the native bindings it calls`);

// inclusive time per top-level entry (children of the root), and one level below
const topOf = (id: number): [number, number | undefined] => {
  let cur = id;
  let below: number | undefined;
  while (parent.get(cur) !== undefined && parent.get(cur) !== rootId) {
    below = cur;
    cur = parent.get(cur)!;
  }
  return [cur, below];
};
const frameKey = (id: number): string => {
  const n = byId.get(id)!;
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${url}:${n.callFrame.lineNumber + 1}` : ''}`;
};
const entries = new Map<string, number>();
const entries2 = new Map<string, number>();
for (const [id, us] of self) {
  const n = name(id);
  if (n === '(idle)' || n === '(program)' || n === '(garbage collector)' || id === rootId) continue;
  const [top, below] = topOf(id);
  const k = frameKey(top);
  entries.set(k, (entries.get(k) ?? 0) + us);
  if (below !== undefined) {
    const k2 = `${k}  >  ${frameKey(below)}`;
    entries2.set(k2, (entries2.get(k2) ?? 0) + us);
  }
}
const top = Number(values.top);
const table = (title: string, m: Map<string, number>): void => {
  out(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) out(`${fmt(us)}  ${k}`);
};
table('inclusive time per event-loop entry', entries);
table('inclusive time per entry > callee', entries2);

// self time by area
const area = (id: number): string => {
  const n = byId.get(id)!;
  const url = n.callFrame.url;
  if (url === '') return `native: ${n.callFrame.functionName}`;
  if (url.startsWith('node:')) return 'node: internals (JS)';
  const m = /\/(src|bench|node_modules)\/(.*)$/.exec(url);
  if (!m) return url;
  if (m[1] === 'node_modules') return `package ${m[2].split('/')[0]}`;
  return `ours: ${m[1]}/${m[2].split('/').slice(0, -1).join('/')}`;
};
const areas = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, us] of self) {
  const n = name(id);
  if (n === '(idle)' || n === '(program)' || n === '(garbage collector)') continue;
  const a = area(id);
  areas.set(a, (areas.get(a) ?? 0) + us);
  const k = frameKey(id);
  fns.set(k, (fns.get(k) ?? 0) + us);
}
table('self time by area', areas);
table('self time by function', fns);
