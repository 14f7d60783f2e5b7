import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { SupervisedProcess } from '../../src/runtime/supervised-process.ts';
import { containerProblems, describeProblem, FATAL_FAILURES_IN_A_ROW } from '../../src/runtime/container-problems.ts';
import type { PodStatusView } from '../../src/runtime/pod-instance.ts';
import { summarise } from '../../src/runtime/termination-message.ts';

const dir = mkdtempSync(join(tmpdir(), 'mizzen-supervise-'));

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

describe('SupervisedProcess', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows Error then restarts at once after one failure; CrashLoopBackOff with doubling backoff (capped) after repeated failures', async () => {
    const clock = new ManualClock(1_000_000);
    const p = new SupervisedProcess(
      { name: 'crash', argv: ['sh', '-c', 'echo run; exit 3'], env: { PATH: process.env.PATH ?? '' }, cwd: dir, logFile: join(dir, 'crash.log') },
      { clock, backoff: { initialMs: 1000, maxMs: 3000, resetAfterMs: 60_000 } },
    );
    p.start();
    const delays: number[] = [];
    for (let i = 1; i <= 5; i++) {
      await until(() => p.status().restarts === i && !p.isRunning());
      const s = p.status();
      assert.equal(s.phase, i === 1 ? 'Error' : 'CrashLoopBackOff');
      assert.equal(s.lastTermination?.finishedAt, clock.now());
      assert.equal(s.lastExitCode, 3);
      delays.push((s.nextRestartAt ?? 0) - clock.now());
      clock.advance(delays[delays.length - 1]);
    }
    assert.deepEqual(delays, [1000, 1000, 2000, 3000, 3000]);
    await until(() => p.status().restarts === 6 && !p.isRunning());
    await p.stop(1000);
    assert.equal(p.status().phase, 'Terminated');
    assert.equal(readFileSync(join(dir, 'crash.log'), 'utf8').split('\n').filter((l) => l === 'run').length, 6);
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

  it('keeps why the last run ended: its first error line, the tail of its output, failures in a row', async () => {
    const clock = new ManualClock(5_000);
    const p = new SupervisedProcess(
      {
        name: 'denied',
        argv: ['sh', '-c', 'echo starting; echo "Error: EACCES: permission denied, open \'/x/bin/mizzen.js\'" >&2; echo "    at Object.openSync" >&2; exit 1'],
        env: { PATH: process.env.PATH ?? '' },
        cwd: dir,
        logFile: join(dir, 'denied.log'),
      },
      { clock, backoff: { initialMs: 1000, maxMs: 1000, resetAfterMs: 60_000 } },
    );
    p.start();
    for (let i = 1; i <= FATAL_FAILURES_IN_A_ROW; i++) {
      await until(() => p.status().failuresInARow === i && !p.isRunning());
      if (i < FATAL_FAILURES_IN_A_ROW) clock.advance(1000);
    }
    const s = p.status();
    assert.equal(s.lastTermination?.reason, 'Error');
    assert.equal(s.lastTermination?.exitCode, 1);
    assert.equal(s.lastTermination?.cause, "Error: EACCES: permission denied, open '/x/bin/mizzen.js'");
    assert.match(s.lastTermination?.message ?? '', /^starting\nError: EACCES.*\n {4}at Object\.openSync$/);
    const pod = { namespace: 'default', name: 'web-1', containers: [{ name: 'istio-proxy', ready: false, everReady: false, status: s }] } as unknown as PodStatusView;
    const [problem] = containerProblems([pod]);
    assert.equal(problem.fatal, true);
    assert.equal(describeProblem(problem), "pod default/web-1 container istio-proxy: CrashLoopBackOff, exit code 1 (3 runs in a row): Error: EACCES: permission denied, open '/x/bin/mizzen.js'");
    // Was ready once: a crash loop to wait on (as the kubelet does), not a reason to give up.
    const wasReady = { ...pod, containers: [{ ...pod.containers[0], everReady: true }] } as PodStatusView;
    assert.equal(containerProblems([wasReady])[0].fatal, false);
    await p.stop(1000);
  });

  it('reports a command that cannot be started as StartError, in its log too', async () => {
    const clock = new ManualClock(0);
    const p = new SupervisedProcess(
      { name: 'missing', argv: ['/nonexistent/mizzen-no-such-command'], env: {}, cwd: dir, logFile: join(dir, 'missing.log') },
      { clock, restartPolicy: 'Never' },
    );
    p.start();
    await until(() => p.status().phase === 'Error');
    assert.equal(p.status().lastTermination?.reason, 'StartError');
    assert.match(p.status().lastTermination?.cause ?? '', /failed to start \/nonexistent\/mizzen-no-such-command: spawn .* ENOENT/);
    assert.match(readFileSync(join(dir, 'missing.log'), 'utf8'), /failed to start .*ENOENT/);
    // restartPolicy Never: finished for good, reported but not a reason for `up -d` to give up.
    const pod = { namespace: 'default', name: 'job', containers: [{ name: 'job', ready: false, everReady: false, status: p.status() }] } as unknown as PodStatusView;
    assert.equal(containerProblems([pod])[0].fatal, false);
  });
});

describe('summarise', () => {
  it('takes the first error line as the cause (not a stack frame), else the last line', () => {
    assert.equal(summarise('node:fs:621\n  return binding.open(\n\nError: Cannot find module \'/a\'\n    at x\n', '').cause, "Error: Cannot find module '/a'");
    assert.equal(summarise('listening\nbye\n', 'listening\nbye\n').cause, 'bye');
    assert.equal(summarise('', '').cause, '');
  });
});
