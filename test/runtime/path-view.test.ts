import assert from 'node:assert/strict';
import type { Stats } from 'node:fs';
import { describe, it } from 'node:test';
import { accessBlocker, canSearch, pathViewScript, planPathView } from '../../src/runtime/path-view.ts';

/** A fake filesystem: path -> [mode, uid, gid, directory?]. */
function fakeFs(entries: Record<string, [number, number, number, boolean]>) {
  const stat = (p: string): Stats | undefined => {
    const e = entries[p];
    if (!e) return undefined;
    return { mode: e[0], uid: e[1], gid: e[2], isDirectory: () => e[3] } as unknown as Stats;
  };
  const list = (dir: string): string[] => Object.keys(entries).filter((p) => p !== dir && p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/')).map((p) => p.slice(dir.length + 1));
  return { stat, list };
}

const proxy = { uid: 1337, gid: 1337 };

describe('planPathView', () => {
  it('mounts nothing when every directory above the paths is open (the usual checkout)', () => {
    const fs = fakeFs({ '/': [0o755, 0, 0, true], '/work': [0o755, 0, 0, true], '/work/mizzen': [0o755, 0, 0, true] });
    assert.deepEqual(planPathView(['/work/mizzen'], proxy, fs.stat, fs.list), { covers: [], mounts: [] });
  });

  it('covers the outermost closed directory and binds the checkout back at its own path', () => {
    const fs = fakeFs({
      '/': [0o755, 0, 0, true],
      '/root': [0o700, 0, 0, true],
      '/root/src': [0o700, 0, 0, true],
      '/root/src/mizzen': [0o755, 0, 0, true],
      '/root/src/mizzen/node_modules/node/bin': [0o755, 0, 0, true],
    });
    const plan = planPathView(['/root/src/mizzen', '/root/src/mizzen/node_modules/node/bin', '/nonexistent'], proxy, fs.stat, fs.list);
    assert.deepEqual(plan, { covers: ['/root'], mounts: [{ path: '/root/src/mizzen', directory: true }] });
  });

  it('binds the entries of a checkout that is itself closed (a clone into a mktemp -d directory)', () => {
    const fs = fakeFs({
      '/': [0o755, 0, 0, true],
      '/tmp': [0o1777, 0, 0, true],
      '/tmp/tmp.x': [0o700, 0, 0, true],
      '/tmp/tmp.x/bin': [0o755, 0, 0, true],
      '/tmp/tmp.x/package.json': [0o644, 0, 0, false],
    });
    const plan = planPathView(['/tmp/tmp.x'], proxy, fs.stat, fs.list);
    assert.deepEqual(plan, {
      covers: ['/tmp/tmp.x'],
      mounts: [
        { path: '/tmp/tmp.x/bin', directory: true },
        { path: '/tmp/tmp.x/package.json', directory: false },
      ],
    });
  });

  it('reads the mode bits for owner, group and others, and does nothing for root', () => {
    const st = (mode: number, uid: number, gid: number): Stats => ({ mode, uid, gid }) as unknown as Stats;
    assert.equal(canSearch(st(0o700, 1337, 0), proxy), true);
    assert.equal(canSearch(st(0o070, 0, 1337), proxy), true);
    assert.equal(canSearch(st(0o701, 0, 0), proxy), true);
    assert.equal(canSearch(st(0o770, 0, 0), proxy), false);
    assert.deepEqual(planPathView(['/root'], { uid: 0, gid: 0 }), { covers: [], mounts: [] });
  });
});

describe('pathViewScript', () => {
  it('stages the binds, covers, binds back read-only, then runs its arguments; quotes every path', () => {
    const script = pathViewScript({ covers: ["/tmp/it's"], mounts: [{ path: "/tmp/it's/mizzen", directory: true }] }, '/run/mizzen/mz1/stage');
    assert.equal(
      script,
      [
        'set -e',
        'umask 022',
        'mount --make-rslave /',
        "mount -t tmpfs -o mode=0700,size=64k mizzen-stage '/run/mizzen/mz1/stage'",
        "mkdir '/run/mizzen/mz1/stage/0'",
        "mount --rbind '/tmp/it'\\''s/mizzen' '/run/mizzen/mz1/stage/0'",
        "mount -t tmpfs -o mode=0755,size=64k mizzen-view '/tmp/it'\\''s'",
        "mkdir -p '/tmp/it'\\''s'",
        "mkdir -p '/tmp/it'\\''s/mizzen'",
        "mount --rbind '/run/mizzen/mz1/stage/0' '/tmp/it'\\''s/mizzen'",
        "mount -o remount,bind,ro '/tmp/it'\\''s/mizzen'",
        "umount -l '/run/mizzen/mz1/stage'",
        'exec "$@"',
      ].join('\n'),
    );
  });
});

describe('accessBlocker', () => {
  const fs = fakeFs({
    '/': [0o755, 0, 0, true],
    '/tmp': [0o1777, 0, 0, true],
    '/tmp/t': [0o700, 0, 0, true],
    '/tmp/t/m': [0o755, 0, 0, true],
    '/tmp/t/m/src': [0o755, 0, 0, true],
    '/tmp/t/m/src/data': [0o700, 0, 0, true],
    '/tmp/t/m/src/data/router.ts': [0o644, 0, 0, false],
    '/tmp/t/m/bin': [0o755, 0, 0, true],
    '/tmp/t/m/bin/strip-cache.js': [0o600, 0, 0, false],
    '/tmp/t/m/bin/mizzen.js': [0o644, 0, 0, false],
  });
  it('names the first directory the user may not enter, below what the path view binds back', () => {
    assert.equal(accessBlocker('/tmp/t/m/src/data/router.ts', proxy, ['/tmp/t/m'], fs.stat), 'uid 1337 cannot enter /tmp/t/m/src/data (mode 0700, owner uid 0)');
    assert.equal(accessBlocker('/tmp/t/m/src/data/router.ts', proxy, [], fs.stat), 'uid 1337 cannot enter /tmp/t (mode 0700, owner uid 0)');
  });
  it('names a file the user may not read, and nothing when all is readable', () => {
    assert.equal(accessBlocker('/tmp/t/m/bin/strip-cache.js', proxy, ['/tmp/t/m'], fs.stat), 'uid 1337 cannot read /tmp/t/m/bin/strip-cache.js (mode 0600, owner uid 0)');
    assert.equal(accessBlocker('/tmp/t/m/bin/mizzen.js', proxy, ['/tmp/t/m'], fs.stat), undefined);
    assert.equal(accessBlocker('/tmp/t/m/bin/mizzen.js', { uid: 0, gid: 0 }, [], fs.stat), undefined);
  });
});
