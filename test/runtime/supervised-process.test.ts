import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { SupervisedProcess } from '../../src/runtime/supervised-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'mizzen-supervise-'));

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

describe('SupervisedProcess', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('restarts a failing process with doubling backoff (capped) and reports CrashLoopBackOff', async () => {
    const clock = new ManualClock(1_000_000);
    const p = new SupervisedProcess(
      { name: 'crash', argv: ['sh', '-c', 'echo run; exit 3'], env: { PATH: process.env.PATH ?? '' }, cwd: dir, logFile: join(dir, 'crash.log') },
      { clock, backoff: { initialMs: 1000, maxMs: 3000, resetAfterMs: 60_000 } },
    );
    p.start();
    const delays: number[] = [];
    for (let i = 1; i <= 4; i++) {
      await until(() => p.status().restarts === i && !p.isRunning());
      const s = p.status();
      assert.equal(s.phase, 'CrashLoopBackOff');
      assert.equal(s.lastExitCode, 3);
      delays.push((s.nextRestartAt ?? 0) - clock.now());
      clock.advance(delays[delays.length - 1]);
    }
    assert.deepEqual(delays, [1000, 2000, 3000, 3000]);
    await until(() => p.status().restarts === 5 && !p.isRunning());
    await p.stop(1000);
    assert.equal(p.status().phase, 'Terminated');
    assert.equal(readFileSync(join(dir, 'crash.log'), 'utf8').split('\n').filter((l) => l === 'run').length, 5);
  });

  it('shows Completed for a clean exit, and does not restart under restartPolicy Never', async () => {
    const clock = new ManualClock(0);
    const p = new SupervisedProcess(
      { name: 'once', argv: ['true'], env: { PATH: process.env.PATH ?? '' }, cwd: dir, logFile: join(dir, 'once.log') },
      { clock, restartPolicy: 'Never' },
    );
    p.start();
    await until(() => p.status().phase === 'Completed');
    assert.equal(p.status().restarts, 0);
    assert.equal(clock.pendingTimers(), 0);
  });

  it('stops a running process and its children (process group), escalating to SIGKILL', async () => {
    const clock = new ManualClock(0);
    const p = new SupervisedProcess(
      { name: 'stubborn', argv: ['sh', '-c', 'trap "" TERM; sleep 30 & wait'], env: { PATH: process.env.PATH ?? '' }, cwd: dir, logFile: join(dir, 'stubborn.log') },
      { clock },
    );
    p.start();
    await until(() => p.isRunning());
    await new Promise((r) => setTimeout(r, 100));
    const pid = p.status().pid;
    assert.ok(pid);
    await p.stop(200);
    assert.equal(p.isRunning(), false);
    const groupGone = (): boolean => {
      try {
        process.kill(-pid, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    };
    // The backgrounded child is killed too (it may linger a moment as a zombie until reaped).
    const deadline = Date.now() + 5000;
    while (!groupGone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(groupGone(), 'the whole group is gone');
  });
});
