import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { writeNetnsEtcFile } from '../../src/runtime/pod-network.ts';
import { rootSkipReason } from './netns-test-support.ts';

/**
 * The /etc files `ip netns exec` bind-mounts into a pod are rewritten in place while the pod's
 * processes read them on every name lookup. A reader must never find the hosts file empty (a
 * truncate-then-write did that: a Service name failed to resolve mid-rollout), and a rewrite with
 * the same content must not touch the file at all.
 */
const NETNS = `mizzen-etc-test-${process.pid}`;
const FILE = `/etc/netns/${NETNS}/hosts`;

/** A child process reading FILE in a tight loop until stdin closes; prints how many reads were empty. */
const READER = `
const fs = require('node:fs');
let reads = 0, empty = 0, stop = false;
process.stdin.on('end', () => (stop = true)).resume();
(function loop() {
  for (let i = 0; i < 2000; i++) { reads++; if (fs.readFileSync(${JSON.stringify(FILE)}).length === 0) empty++; }
  if (stop) console.log(JSON.stringify({ reads, empty })); else setImmediate(loop);
})();
`;

describe('writeNetnsEtcFile', { skip: await rootSkipReason() }, () => {
  after(() => rmSync(`/etc/netns/${NETNS}`, { recursive: true, force: true }));

  it('never leaves the file empty for a concurrent reader, and keeps it untouched when the content is the same', async () => {
    const line = (i: number): string => `10.96.0.${i}\tsvc-${i}.default.svc.cluster.local svc-${i}.default.svc svc-${i}.default svc-${i}\n`;
    const long = Array.from({ length: 40 }, (_, i) => line(i)).join('');
    const short = Array.from({ length: 20 }, (_, i) => line(i)).join('');
    await writeNetnsEtcFile(NETNS, 'hosts', long);
    assert.equal(readFileSync(FILE, 'utf8'), long);
    const reader = spawn(process.execPath, ['-e', READER], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    for (let i = 0; i < 400; i++) await writeNetnsEtcFile(NETNS, 'hosts', i % 2 === 0 ? short : long);
    reader.stdin.end();
    await done;
    const { reads, empty } = JSON.parse(out) as { reads: number; empty: number };
    assert.ok(reads > 1000, `the reader read ${reads} times`);
    assert.equal(empty, 0, `empty reads out of ${reads}`);
    assert.equal(readFileSync(FILE, 'utf8'), long, 'the last content, cut to its length');

    const before = statSync(FILE);
    await new Promise((r) => setTimeout(r, 20));
    await writeNetnsEtcFile(NETNS, 'hosts', long);
    const afterSame = statSync(FILE);
    assert.equal(afterSame.mtimeMs, before.mtimeMs, 'the same content is not written again');
    assert.equal(afterSame.ino, before.ino);
    assert.ok(existsSync(FILE));
  });
});
