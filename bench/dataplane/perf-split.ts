/**
 * `node bench/dataplane/perf-split.ts PERF.DATA --requests N [--top 25] [--script --freq HZ]`: where a proxy's CPU goes,
 * from `perf record -e cpu-clock -g -p PID` of a proxy run with `--perf-basic-prof` (JIT frames
 * named). Unlike V8's --cpu-prof, which samples wall time (a sample taken while the main thread
 * is preempted inside writev — the loopback send wakes the peer — is charged to writev), perf's
 * cpu-clock samples only on-CPU time, kernel included, so the shares add up to the CPU figure of
 * /proc. Prints µs of CPU per request (N = requests in the recorded window) by event-loop entry
 * (user / kernel), by code category, and the inclusive time of our functions excluding the
 * socket writes they issue.
 *
 *   MIZZEN_BENCH_NODE_FLAGS=--perf-basic-prof node bench/dataplane-quick.ts --seconds 30 &
 *   perf record -e cpu-clock -F 2000 -g -p $(pgrep -f 'proxy sidecar.*--pod client') -o c.data -- sleep 8
 *   node bench/dataplane/perf-split.ts c.data --requests 8000
 *
 * (--perf-basic-prof also leaves /tmp/perf-PID.map and isolate-*-v8.log files in the working
 * directory: delete them afterwards.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { requests: { type: 'string' }, top: { type: 'string', default: '25' }, script: { type: 'boolean', default: false }, freq: { type: 'string', default: '2000' } } });
if (!positionals[0] || !values.requests) {
  process.stderr.write('usage: node bench/dataplane/perf-split.ts PERF.DATA --requests N [--top 25]\n');
  process.exit(2);
}
// --script: the file is already `perf script -F comm,tid,ip,sym,dso` output (keep it while the
// JIT maps in /tmp/perf-PID.map still exist: they go with the process's next run)
const text = values.script ? readFileSync(positionals[0], 'utf8') : execFileSync('perf', ['script', '-i', positionals[0], '-F', 'comm,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
interface Frame {
  sym: string;
  dso: string;
}
const samples: Frame[][] = [];
let cur: Frame[] | undefined;
for (const line of text.split('\n')) {
  if (line.trim() === '') {
    if (cur) samples.push(cur);
    cur = undefined;
    continue;
  }
  if (!/^\s/.test(line)) {
    cur = [];
    continue;
  }
  const m = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/.exec(line);
  if (m && cur) cur.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
}
if (cur) samples.push(cur);
const freq = values.script ? Number(values.freq) : Number(/sample_freq \} = (\d+)/.exec(execFileSync('perf', ['report', '-i', positionals[0], '--header-only'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1] ?? values.freq);
const usPerSample = 1e6 / freq / Number(values.requests);
const out = (s: string): void => void process.stdout.write(`${s}\n`);

function category(f: Frame): string {
  const { sym, dso } = f;
  if (dso.includes('kernel')) return 'kernel';
  if (dso.startsWith('/tmp/perf-') || dso.includes('JIT')) return 'JIT-compiled JavaScript';
  if (dso.includes('libc')) return /malloc|free|_int_|unlink_chunk|consolidate/.test(sym) ? 'malloc/free' : /mem(cpy|move|set)/.test(sym) ? 'memcpy' : 'libc other';
  if (sym.startsWith('Builtins_')) return 'V8 builtins';
  if (/ossl_|SSL|ssl3|tls1|tls13|EVP_|aes|gcm|CRYPTO|BIO_|OPENSSL/.test(sym)) return 'OpenSSL';
  if (/Heap::|Scaveng|Marking|Sweep|Evacuat|MinorMS/.test(sym)) return 'V8 GC';
  if (/^uv_|^uv__/.test(sym)) return 'libuv';
  if (sym.startsWith('node::')) return 'Node C++ (bindings, streams, TLSWrap)';
  if (sym.startsWith('v8::')) return 'V8 runtime and API (calls between C++ and JS)';
  return 'other';
}

function entry(s: Frame[]): string {
  const all = s.map((f) => f.sym).join('|');
  if (/compiler::/.test(all)) return 'JIT compilation';
  if (/sys_epoll|epoll_pwait/.test(all)) return 'epoll_wait (sleep and wake-up)';
  if (all.includes('TLSWrap::OnStreamRead')) return 'TLS socket readable (SSL_read, JS handling, writes it issues)';
  if (all.includes('uv__read')) return 'plain socket readable (read, JS handling, writes it issues)';
  if (all.includes('RunAndClearNativeImmediates')) return 'native immediates (TLS write completion callbacks)';
  if (/uv__write|uv__stream_io/.test(all)) return 'socket writable (write completion)';
  if (/uv__run_timers|processTimers/.test(all)) return 'timers';
  if (/Heap::|Scaveng/.test(all)) return 'GC outside callbacks';
  return 'other';
}

const table = (title: string, m: Map<string, number>, extra?: (k: string) => string): void => {
  out(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) out(`${(v * usPerSample).toFixed(1).padStart(7)} µs/req  ${((100 * v) / samples.length).toFixed(1).padStart(5)} %  ${k}${extra ? extra(k) : ''}`);
};
const add = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

out(`${samples.length} samples at ${freq} Hz over ${values.requests} requests: ${(samples.length * usPerSample).toFixed(1)} µs of CPU per request`);
const entries = new Map<string, number>();
const entryKernel = new Map<string, number>();
const cats = new Map<string, number>();
for (const s of samples) {
  if (s.length === 0) continue;
  const e = entry(s);
  add(entries, e);
  if (category(s[0]) === 'kernel') add(entryKernel, e);
  add(cats, category(s[0]));
}
table('by event-loop entry (inclusive)', entries, (k) => `  [kernel ${((entryKernel.get(k) ?? 0) * usPerSample).toFixed(1)} µs]`);
table('by code category (leaf frame)', cats);

// our functions, inclusive, leaving out samples inside the socket writes they issue
const WRITE = /StreamBase::Write|Writable\.write|writeGeneric|Socket\._write|writeOrBuffer|TLSWrap::DoWrite/;
const ours = new Map<string, number>();
let inOurs = 0;
let inWrites = 0;
for (const s of samples) {
  const idx = s.flatMap((f, i) => (f.sym.includes('/src/') && f.sym.includes('file://') ? [i] : []));
  if (idx.length === 0) continue;
  if (s.slice(0, idx[0]).some((f) => WRITE.test(f.sym))) {
    inWrites++;
    continue;
  }
  inOurs++;
  const seen = new Set<string>();
  for (const i of idx) {
    const m = /([\w$.<>]*)\s+file:\/\/.*\/src\/([^:]+)/.exec(s[i].sym.replace(/^JS:[*~+^]?'?/, ''));
    const k = m ? `${m[1] || '(anonymous)'} ${m[2]}` : s[i].sym;
    if (!seen.has(k)) add(ours, k);
    seen.add(k);
  }
}
out(`\nunder our JavaScript: ${(inOurs * usPerSample).toFixed(1)} µs/req computing, ${(inWrites * usPerSample).toFixed(1)} µs/req in the socket writes it issues (TLS, syscalls)`);
table('our functions, inclusive (writes left out)', ours);
