import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GuardRoutes, hasGuardRoute, readGuardHolders } from '../../src/runtime/guard-routes.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { processRunning } from '../../src/runtime/process-identity.ts';
import { leftovers, rootSkipReason, tempDir, testMesh } from './netns-test-support.ts';

const skip = await rootSkipReason();
// CIDRs of this run only (other test runs share the machine): 10.X.N.0/24 with X random.
const x = 200 + Math.floor(Math.random() * 50);
const cidr = (n: number): string => `10.${x}.${n}.0/24`;

/** Whether the root namespace has the guard route of `c`. */
async function routeState(c: string): Promise<'present' | 'absent'> {
  return (await hasGuardRoute(c)) ? 'present' : 'absent';
}

describe('GuardRoutes', { skip }, () => {
  const dir = tempDir('guards');
  after(async () => {
    for (let n = 1; n <= 9; n++) await runHostCommand('ip', ['route', 'del', 'unreachable', cidr(n)], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes each CIDR with its last holder, not when the last holder of all goes', async () => {
    const guards = join(dir, 'per-cidr');
    const a = new GuardRoutes({ cidrs: [cidr(1), cidr(2)], owner: 'mesh-a', dir: guards });
    const b = new GuardRoutes({ cidrs: [cidr(2), cidr(3)], owner: 'mesh-b', dir: guards });
    await a.acquire();
    await b.acquire();
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => routeState(cidr(n)))), ['present', 'present', 'present']);
    await a.release();
    // mesh-a's own CIDR goes although mesh-b still holds another one; the shared one stays.
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => routeState(cidr(n)))), ['absent', 'present', 'present']);
    assert.deepEqual((await readGuardHolders(guards)).map((h) => h.owner), ['mesh-b']);
    await b.release();
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => routeState(cidr(n)))), ['absent', 'absent', 'absent']);
  });

  it('drops a holder whose process is gone, with the routes only it held', async () => {
    const guards = join(dir, 'dead');
    const keeper = new GuardRoutes({ cidrs: [cidr(5)], owner: 'keeper', dir: guards });
    await keeper.acquire();
    // A crashed holder: a process that has exited, holding cidr 4 alone and cidr 5 with the keeper.
    const gone = spawnSync('true').pid ?? 999_999;
    writeFileSync(join(guards, 'crashed.holder'), `${gone}\n${cidr(4)} ${cidr(5)}\n`);
    await runHostCommand('ip', ['route', 'add', 'unreachable', cidr(4)]);
    assert.equal(processRunning({ pid: gone, startTime: undefined }), false);
    const next = new GuardRoutes({ cidrs: [cidr(6)], owner: 'next', dir: guards });
    await next.acquire();
    assert.deepEqual((await readGuardHolders(guards)).map((h) => h.owner).sort(), ['keeper', 'next']);
    assert.deepEqual(await Promise.all([4, 5, 6].map((n) => routeState(cidr(n)))), ['absent', 'present', 'present']);
    await next.release();
    await keeper.release();
    assert.deepEqual(await Promise.all([4, 5, 6].map((n) => routeState(cidr(n)))), ['absent', 'absent', 'absent']);
  });
});

describe('two meshes with different CIDRs', { skip }, () => {
  it('each keeps its guard routes while it runs and takes them away on close', async () => {
    const dir = tempDir('two-meshes');
    writeFileSync(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: guarded}\n');
    const a = testMesh(join(dir, 'a'), join(dir, 'ns.yaml'), { podCidr: cidr(7), serviceCidr: cidr(8) });
    const b = testMesh(join(dir, 'b'), join(dir, 'ns.yaml'), { podCidr: cidr(9), serviceCidr: '10.96.0.0/16' });
    try {
      await a.start();
      await b.start();
      for (const c of [cidr(7), cidr(8), cidr(9), '10.96.0.0/16']) assert.equal(await routeState(c), 'present', c);
      await a.close();
      // Mesh a's CIDRs are gone although mesh b (other CIDRs) still runs: b's stay.
      assert.deepEqual(await leftovers(a.prefix, [], [cidr(7), cidr(8)]), []);
      assert.equal(await routeState(cidr(7)), 'absent');
      assert.equal(await routeState(cidr(8)), 'absent');
      assert.equal(await routeState(cidr(9)), 'present');
      assert.equal(await routeState('10.96.0.0/16'), 'present');
      await b.close();
      assert.deepEqual(await leftovers(b.prefix, [], [cidr(9), '10.96.0.0/16']), []);
      assert.equal(await routeState(cidr(9)), 'absent');
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the leftover check fails on a route nobody holds', async () => {
    await runHostCommand('ip', ['route', 'add', 'unreachable', cidr(3)]);
    try {
      assert.deepEqual(await leftovers('mz-none', [], [cidr(3)]), [`route unreachable ${cidr(3)} (no live holder)`]);
    } finally {
      await runHostCommand('ip', ['route', 'del', 'unreachable', cidr(3)], { allowFailure: true });
    }
  });
});
