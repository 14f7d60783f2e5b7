import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { proxyConfig, type ProxyFlags } from '../../src/cli/proxy-config.ts';
import { ztunnelConfig } from '../../src/cli/ztunnel-config.ts';
import { startProxyTrim, trimmableMappings } from '../../src/lib/executable-pages.ts';
import type { Logger } from '../../src/lib/log.ts';

const FLAGS: ProxyFlags = { discovery: '127.0.0.1:15010', adminPort: '15000', readinessPort: '15021', prometheusPort: '15090', ca: false, xdsProtocol: 'delta', drainGrace: '5' };

const vma = (range: string, perms: string, path: string, anonymousKb: number): string =>
  `${range} ${perms} 00000000 fd:01 1234                       ${path}\nSize:               1024 kB\nRss:                 512 kB\nAnonymous:        ${String(anonymousKb).padStart(6)} kB\nVmFlags: rd mr mw me\n`;

describe("the proxy's working-set trim (node binary pages that only start-up touched)", () => {
  it('picks only read-only private mappings of the binary that hold no written (copy-on-write) page', () => {
    const smaps = [
      vma('00400000-00500000', 'r--p', '/usr/bin/node', 0), // rodata: yes
      vma('00500000-00900000', 'r-xp', '/usr/bin/node', 0), // text: yes
      vma('00900000-00910000', 'r--p', '/usr/bin/node', 8), // RELRO, relocated: never
      vma('00910000-00920000', 'rw-p', '/usr/bin/node', 0), // data: never
      vma('00920000-00930000', 'r--s', '/usr/bin/node', 0), // shared mapping: never
      vma('7f0000000000-7f0000100000', 'r-xp', '/usr/lib/libc.so.6', 0), // another file
      vma('7f0000200000-7f0000300000', 'rw-p', '', 64), // anonymous
    ].join('');
    assert.deepEqual(trimmableMappings(smaps, '/usr/bin/node'), [
      { start: 0x400000n, end: 0x500000n },
      { start: 0x500000n, end: 0x900000n },
    ]);
    assert.deepEqual(trimmableMappings(smaps, '/nowhere'), []);
  });

  it('a real process keeps working after its binary pages are dropped, with less resident memory', () => {
    // In a child process: the trim, then work that needs the dropped code again (TLS, zlib, JSON, Intl).
    const lib = fileURLToPath(new URL('../../src/lib/', import.meta.url));
    const script = `
      const { trimExecutablePages } = await import(${JSON.stringify(lib + 'executable-pages.ts')});
      const { libc } = await import(${JSON.stringify(lib + 'libc.ts')});
      const crypto = await import('node:crypto'); const zlib = await import('node:zlib');
      const r = trimExecutablePages(libc());
      const digest = crypto.createHash('sha256').update('mizzen').digest('hex');
      const round = zlib.gunzipSync(zlib.gzipSync(Buffer.from('x'.repeat(10000)))).length;
      const text = new Intl.NumberFormat('en-US').format(1234567.5);
      process.stdout.write(JSON.stringify({ ...r, digest, round, text }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
    assert.ok((out.mappings as number) > 0, `no mapping of ${process.execPath} trimmed: ${JSON.stringify(out)}`);
    assert.ok((out.rssAfterKb as number) < (out.rssBeforeKb as number), JSON.stringify(out));
    assert.equal(out.digest, 'dd5378a5210f5eb6e6646f6642e9d81da685ca2ccb44b80ddb504ec54e242654');
    assert.equal(out.round, 10000);
    assert.equal(out.text, '1,234,567.5');
  });

  it('is on by default (20 s and 120 s after start); MIZZEN_PROXY_TRIM_PAGES=off turns it off', () => {
    assert.deepEqual(proxyConfig('sidecar', FLAGS, {}).trimFilePagesAtMs, [20_000, 120_000]);
    assert.deepEqual(proxyConfig('sidecar', FLAGS, { MIZZEN_PROXY_TRIM_PAGES: 'off' }).trimFilePagesAtMs, []);
  });

  it('ztunnel trims on the same schedule and switch as the sidecar', () => {
    assert.deepEqual(ztunnelConfig({ discovery: '127.0.0.1:15010', adminPort: '15000', readinessPort: '15021', metricsPort: '15020' }, {}).trimFilePagesAtMs, [20_000, 120_000]);
    assert.deepEqual(ztunnelConfig({ discovery: '127.0.0.1:15010', adminPort: '15000', readinessPort: '15021', metricsPort: '15020' }, { MIZZEN_PROXY_TRIM_PAGES: 'off' }).trimFilePagesAtMs, []);
  });

  it('startProxyTrim runs the trim at each scheduled time and logs what it gave back; an empty schedule does nothing', async () => {
    const lines: string[] = [];
    const log = { debug: (_o: unknown, msg: string) => void lines.push(msg) } as unknown as Logger;
    let trims = 0;
    const calls = { malloc_trim: () => ((trims += 1), 1), madvise: () => -1 };
    assert.equal(startProxyTrim([], log, calls), undefined);
    const stop = startProxyTrim([1, 5], log, calls);
    assert.ok(stop);
    const until = Date.now() + 10_000;
    while (trims < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    stop();
    assert.equal(trims, 2);
    assert.equal(lines.filter((l) => l.startsWith('gave back free malloc memory')).length, 2);
  });
});
