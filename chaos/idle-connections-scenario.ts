/**
 * 10,000 concurrent idle connections through one proxy: a process in the client pod opens them to
 * the server's service (each captured into the client's sidecar, which holds it open with no
 * request), then fortio runs at the usual rate beside them. The sidecar's memory must stay bounded
 * (RSS before, with the idle connections, after the load) and new requests must still be served.
 * Where the sidecar's open-files limit is below what the idle connections need (two descriptors
 * each), its overload monitor closes idle connections (reduce_timeouts) to make room: the row says
 * how many, from the sidecar's own stats.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientStats, killMatching, mizzenExecChild } from './chaos-mesh.ts';
import { meshManifests } from './manifests.ts';
import { row, sleep, startLoad, until, type Scenario } from './scenario.ts';

/** `node idle.ts HOST PORT N`: opens N connections, prints `open K` as they connect, holds them until killed. */
const IDLE_SCRIPT = `import net from 'node:net';
const [host, port, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let open = 0, failed = 0, closed = 0, started = 0;
const report = () => console.log(JSON.stringify({ open, failed, closed }));
const sockets = [];
const next = () => {
  // 200 at a time: a burst of 10,000 SYNs would overflow the listener's backlog, not measure the proxy
  while (started < n && started - open - failed < 200) {
    started++;
    const s = net.connect(port, host, () => { open++; next(); });
    s.on('error', () => { failed++; next(); });
    s.on('close', () => { closed++; });
    sockets.push(s);
  }
};
next();
setInterval(report, 500);
`;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export const idleConnections: Scenario = {
  name: 'idle-10k',
  title: '10,000 concurrent idle connections through one sidecar: memory bounded, new requests served',
  manifests: () => meshManifests(),
  async run(ctx) {
    const n = ctx.idleConnections ?? (ctx.quick ? 1000 : 10_000);
    const total = ctx.quick ? 15 : 30;
    const sidecar = ctx.mesh.sidecars('client-')[0];
    if (!sidecar) throw new Error('no client sidecar');
    const rssBefore = rssMiB(sidecar.pid);
    const script = join(ctx.mesh.dir, 'idle.mjs');
    writeFileSync(script, IDLE_SCRIPT);
    const idle = mizzenExecChild('deploy/client', [process.execPath, script, 'server', '8080', String(n)], ctx.mesh.dir);
    let state = { open: 0, failed: 0, closed: 0 };
    let buf = '';
    idle.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        try {
          state = JSON.parse(l) as typeof state;
        } catch {
          // not a report line
        }
      }
    });
    const killIdle = (): void => {
      if (idle.exitCode === null) idle.kill('SIGKILL');
      // the script itself runs under `mizzen exec` in the pod: find it by its path (this run's own)
      killMatching((argv) => argv.includes(script));
    };
    try {
      const openedAt = Date.now();
      await until(`${n} idle connections open`, () => (state.open + state.failed >= n ? true : undefined), 300_000);
      const openMs = Date.now() - openedAt;
      await sleep(3000);
      const rssIdle = rssMiB(sidecar.pid);
      const load = startLoad(ctx, total);
      const r = await load.result();
      const rssAfter = rssMiB(sidecar.pid);
      const held = state.open - state.closed;
      const o = await clientStats(ctx.mesh, /^((?:overload|server)\.[a-z_.]+|listener\.[^:]+\.downstream_cx_overflow): (\d+)$/);
      const overflow = Object.entries(o).filter(([k]) => k.endsWith('.downstream_cx_overflow')).reduce((a, [, v]) => a + v, 0);
      return row(ctx, {
        scenario: `${n.toLocaleString('en')} concurrent idle connections through the client's sidecar, then the load beside them`,
        seconds: total,
        r,
        recovery: `${state.open} opened in ${(openMs / 1000).toFixed(1)} s (${state.failed} refused), ${held} still open after the load; client sidecar RSS ${rssBefore} MiB → ${rssIdle} MiB with them idle (${(((rssIdle - rssBefore) * 1024) / Math.max(1, state.open)).toFixed(1)} KiB each) → ${rssAfter} MiB after the load; sidecar open files ${o['server.open_files'] ?? '?'} of ${o['server.open_files_limit'] ?? '?'}, idle connections it closed under descriptor pressure ${o['overload.mizzen.idle_connections_closed'] ?? '?'}, accept failures ${overflow}`,
        recoveryMs: undefined,
        // idle connections closed by the overload action are the proxy protecting new requests, as Envoy's
        nothingLost: r.failed === 0,
        expectZero: true,
        notes: [],
      });
    } finally {
      killIdle();
    }
  },
};
