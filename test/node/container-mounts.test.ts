import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mountArgv, mountPathProblem, planMounts } from '../../src/node/container-mounts.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { rootSkipReason } from '../runtime/netns-test-support.ts';

const skip = await rootSkipReason();

describe('container volume mounts', () => {
  it('plans one overlay for the deepest existing ancestor of missing mount paths', () => {
    const exists = (p: string): boolean => ['/', '/run', '/etc'].includes(p);
    const plan = planMounts(
      [
        { source: '/s1', target: '/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        { source: '/s2', target: '/run/secrets/tokens', readOnly: true },
        { source: '/s3', target: '/etc/istio/proxy', readOnly: false },
      ],
      exists,
      () => true,
    );
    assert.deepEqual(plan.overlays, ['/etc', '/run']);
    assert.equal(mountPathProblem('/nonexistent-top/x', exists), 'mountPath /nonexistent-top/x: /nonexistent-top does not exist on this machine, and mizzen node overlays only existing directories below /');
    assert.equal(mountPathProblem('relative', exists), 'mountPath relative is not absolute');
  });

  // The stage (where sources wait while overlays go up) under an overlaid directory, as
  // /run/mizzen/... is under /run for a mountPath /var/run/secrets/...: the mounts must still be made.
  it('mounts volumes below an overlaid ancestor of the stage, in a private mount namespace only', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mizzen-mounts-'));
    try {
      const base = join(dir, 'base');
      const stage = join(base, 'stage');
      const src = join(dir, 'src');
      mkdirSync(stage, { recursive: true, mode: 0o700 });
      mkdirSync(src);
      writeFileSync(join(src, 'token'), 'secret-token\n');
      const target = join(base, 'secrets', 'sa');
      const argv = mountArgv([{ source: src, target, readOnly: true }], stage, 'none');
      const r = await runHostCommand('unshare', ['-m', ...argv, 'sh', '-c', `cat ${target}/token; touch ${target}/x 2>/dev/null && echo writable || echo read-only`], { allowFailure: true });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'secret-token\nread-only\n');
      assert.equal(existsSync(join(base, 'secrets')), false, 'nothing created on the host');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
