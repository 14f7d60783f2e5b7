import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listNetns } from '../../src/runtime/netns.ts';
import { REPO, rootSkipReason, tempDir } from '../runtime/netns-test-support.ts';

/**
 * The chaos suite's runner works (`npm run chaos` itself is not part of `npm test`: its
 * scenarios take minutes): one quick scenario, discovery SIGKILLed under a low fortio load in a
 * real `mizzen up` mesh, its row reported, and everything taken down.
 */
const FORTIO = '/var/cache/mizzen/fortio-1.63.0/fortio';
const skip = (await rootSkipReason()) || (!existsSync(FORTIO) ? `fortio is not at ${FORTIO} (scripts/fortio.sh builds it; .ci/run does)` : false);

describe('npm run chaos (smoke: one quick scenario)', { skip, timeout: 240_000 }, () => {
  it('kills discovery under load, reports the row with 0 failed, and leaves nothing behind', async () => {
    const dir = tempDir('chaos-smoke');
    const json = join(dir, 'chaos.json');
    try {
      const out = await new Promise<{ code: number; text: string }>((resolve) => {
        const child = spawn(process.execPath, [join(REPO, 'chaos/run.ts'), '--only', 'cp-kill', '--quick', '--qps', '200', '--connections', '4', '--json', json], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.stderr.on('data', (d: Buffer) => (text += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, text }));
      });
      assert.equal(out.code, 0, out.text);
      const report = JSON.parse(readFileSync(json, 'utf8')) as { results: { scenario: string; mesh: string; sent: number; failed: number; p99Ms: number; recoveryMs: number; passed: boolean }[]; leftovers: string[] };
      assert.equal(report.results.length, 1);
      const r = report.results[0]!;
      assert.ok(r.sent > 500, `fortio sent requests through the sidecars (${r.sent})`);
      assert.equal(r.failed, 0, out.text);
      assert.ok(r.p99Ms > 0 && r.recoveryMs > 0, out.text);
      assert.match(out.text, /\| control plane SIGKILLed and restarted \|/);
      assert.deepEqual(report.leftovers, []);
      assert.match(r.mesh, /^mz[0-9a-f]+$/);
      assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${r.mesh}-`)), [], 'no network namespace of the chaos mesh is left');
      assert.ok(!existsSync(`/run/mizzen/${r.mesh}`), 'its run directory is gone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
