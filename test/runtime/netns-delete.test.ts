import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { createNetns, deleteNetns } from '../../src/runtime/netns.ts';
import { rootSkipReason } from './netns-test-support.ts';

/**
 * Deleting a pod's namespace kills what still lives in it, as stopping a container kills its
 * cgroup: a command started by `mizzen exec` whose caller was killed (a test's curl loop was found
 * running after CI, in a namespace with no name left) must not outlive its pod.
 */
const NETNS = `mizzen-del-test-${process.pid}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('deleteNetns', { skip: await rootSkipReason() }, () => {
  const started: number[] = [];
  after(async () => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await deleteNetns(NETNS);
  });

  it('kills the processes left in the namespace, and nothing outside it', async () => {
    await createNetns(NETNS);
    // an orphan in the namespace (its own session, as a process whose parent went away)
    const inside = spawn('ip', ['netns', 'exec', NETNS, 'sh', '-c', 'while true; do sleep 0.2; done'], { detached: true, stdio: 'ignore' });
    const outside = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    started.push(inside.pid!, outside.pid!);
    let insideExited = false;
    inside.once('exit', () => (insideExited = true));
    // wait until `ip netns exec` has become the shell inside the namespace
    const deadline = Date.now() + 20_000;
    const target = `net:[${statSync(`/run/netns/${NETNS}`).ino}]`;
    while (Date.now() < deadline) {
      let link: string | undefined;
      try {
        link = readlinkSync(`/proc/${inside.pid}/ns/net`);
      } catch {
        link = undefined;
      }
      if (link === target) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(readlinkSync(`/proc/${inside.pid}/ns/net`), target, 'the shell runs in the namespace');

    await deleteNetns(NETNS);
    const killDeadline = Date.now() + 10_000;
    while (!insideExited && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(inside.pid!), false, 'the process in the namespace was killed');
    assert.equal(alive(outside.pid!), true, 'a process outside it lives on');
    assert.equal(existsSync(`/run/netns/${NETNS}`), false);
  });
});
