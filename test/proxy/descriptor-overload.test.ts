import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { DescriptorOverload } from '../../src/data/listener/descriptor-overload.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { countOpenFiles, openFilesLimit, setOpenFilesSoftLimit } from '../../src/lib/open-files.ts';
import { address, staticCluster, tcpProxy } from './support/envoy-builders.ts';
import { echoOnce } from './support/echo-once.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

/**
 * Idle connections exhausting the proxy's open files (issue 20's 10,000-idle-connections chaos
 * scenario, small): the proxy runs in this process with its soft RLIMIT_NOFILE lowered to what it
 * has open plus 120; a child process (its own limit) holds the tcp_proxy's upstream (an echo
 * server) and opens 150 idle connections through the proxy, 2 descriptors each in the proxy.
 * The overload monitor must close idle connections (reduce_timeouts) and a new connection must
 * be served afterwards, where before nothing was accepted any more and nothing was logged.
 */
const CHILD = `
import * as net from 'node:net';
import { createInterface } from 'node:readline';
const sockets = new Set();
const echo = net.createServer((s) => { s.on('error', () => {}); s.pipe(s); });
echo.listen(0, '127.0.0.1', () => console.log('upstream ' + echo.address().port));
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, n, port] = line.split(' ');
  if (cmd !== 'open') return;
  let opened = 0, failed = 0;
  for (let i = 0; i < Number(n); i++) {
    await new Promise((resolve) => {
      const c = net.connect({ port: Number(port), host: '127.0.0.1' }, () => { opened++; sockets.add(c); resolve(); });
      c.on('error', () => { failed++; resolve(); });
      c.on('close', () => sockets.delete(c));
    });
  }
  console.log('opened ' + opened + ' failed ' + failed + ' open ' + sockets.size);
});
process.stdin.on('end', () => process.exit(0));
`;

describe('open files exhausted by idle connections', () => {
  let h: Harness | undefined;
  let child: ChildProcess | undefined;
  let originalSoft: number | undefined;
  const lines: string[] = [];

  before(async () => {
    child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    await waitUntil(() => lines.some((l) => l.startsWith('upstream ')), 'the child upstream', 30_000);
    const upstreamPort = Number(lines.find((l) => l.startsWith('upstream '))!.split(' ')[1]);
    h = await startHarness({ overload: { intervalMs: 100, minIdleTimeoutMs: 500 } });
    await h.push({
      clusters: [staticCluster('echo', [['127.0.0.1', upstreamPort]])],
      listeners: [{ name: 'echo', address: address('0.0.0.0', 7101), filterChains: [{ filters: [tcpProxy('echo')] }] }],
    });
  });

  after(async () => {
    if (originalSoft !== undefined) setOpenFilesSoftLimit(originalSoft);
    child?.stdin?.end();
    child?.kill();
    await h?.close();
  });

  it('closes idle connections under descriptor pressure and serves new ones', { timeout: 90_000 }, async () => {
    const limit = openFilesLimit();
    const open = countOpenFiles();
    if (!limit || open === undefined) return assert.fail('RLIMIT_NOFILE and /proc/self/fd are needed (Linux)');
    originalSoft = limit.soft;
    const lowered = setOpenFilesSoftLimit(open + 120);
    assert.equal(typeof lowered, 'object', String(lowered));
    const overload = h!.proxy.listeners.overload!;
    assert.ok(overload, 'the proxy runs the open-files overload monitor');

    child!.stdin!.write(`open 150 ${h!.port('echo')}\n`);
    const state = () => JSON.stringify({ pressure: overload.pressure, scale: overload.scale, open: overload.lastOpen, limit: overload.lastLimit, acceptFailures: [...overload.acceptFailures], child: lines });
    await waitUntil(() => overload.idleClosed > 0, 'idle connections closed under pressure', 60_000).catch((e: Error) => {
      throw new Error(`${e.message}; monitor: ${state()}`);
    });
    await waitUntil(() => lines.some((l) => l.startsWith('opened ')), 'the child opened its connections', 60_000);

    // a new connection through the proxy is served once descriptors are free again
    const deadline = Date.now() + 30_000;
    let reply = '';
    while (reply !== 'ping' && Date.now() < deadline) reply = await echoOnce(h!.port('echo'));
    assert.equal(reply, 'ping', 'a new connection is proxied after idle ones were closed');

    const stats = h!.proxy.statsText();
    assert.match(stats, /overload\.mizzen\.idle_connections_closed: [1-9]/);
    assert.match(stats, /overload\.mizzen\.resource_monitors\.open_files\.pressure: \d+/);
    assert.match(stats, /server\.open_files_limit: \d+/);
  });
});

describe('DescriptorOverload at the limit itself', () => {
  it('reads a failed count (EMFILE: reading /proc needs a descriptor) as every descriptor in use, and closes idle connections', () => {
    let t = 0;
    let reads: { limit: number | undefined; open: number | undefined } = { limit: 100, open: 70 };
    const sockets = Array.from({ length: 10 }, () => {
      const s = { bytesRead: 5, bytesWritten: 5, destroyed: false, destroy() { s.destroyed = true; } };
      return s;
    });
    const m = new DescriptorOverload({
      source: { limit: () => reads.limit, open: () => reads.open },
      connections: () => sockets.filter((s) => !s.destroyed) as unknown as net.Socket[],
      log: silentLogger(),
      minIdleTimeoutMs: 500,
      now: () => t,
    });
    m.sample(true); // 70 %: connections are watched, nothing is closed
    assert.equal(m.idleClosed, 0);
    reads = { limit: undefined, open: undefined }; // both reads fail at the limit
    t = 1000;
    m.sample(true);
    assert.equal(m.pressure, 1, 'at the limit: saturated');
    assert.equal(m.scale, 1);
    assert.ok(m.idleClosed > 0, 'idle connections closed although /proc could not be read');
    assert.equal(sockets.filter((s) => s.destroyed).length, m.idleClosed);
  });

  it('knows the limit from its start, so a first timed sample at the limit (both reads failing) still acts', () => {
    let reads: { limit: number | undefined; open: number | undefined } = { limit: 100, open: 10 };
    const m = new DescriptorOverload({
      source: { limit: () => reads.limit, open: () => reads.open },
      connections: () => [],
      log: silentLogger(),
    });
    m.start();
    try {
      reads = { limit: undefined, open: undefined };
      m.sample(true);
      assert.equal(m.pressure, 1, 'every descriptor in use');
      assert.equal(m.lastLimit, 100);
    } finally {
      m.close();
    }
  });

  it('does nothing where descriptors were never readable (no procfs)', () => {
    const m = new DescriptorOverload({
      source: { limit: () => undefined, open: () => undefined },
      connections: () => [],
      log: silentLogger(),
    });
    m.sample(true);
    assert.equal(m.pressure, 0);
  });
});
