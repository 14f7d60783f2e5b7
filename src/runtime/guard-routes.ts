import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MizzenError } from '../lib/errors.ts';
import { runHostCommand } from './host-command.ts';

/**
 * The safety net of `mizzen up`: `ip route add unreachable CIDR` in the root namespace for the
 * pod and service CIDRs, so no packet for a mesh address can leave the machine. Several meshes
 * (or test runs) may share them: each holder registers a file under `dir` and the routes go
 * away only when the last holder releases them. A mkdir lock serialises the check-and-change.
 */
export const DEFAULT_GUARD_DIR = '/run/mizzen/guards';

export class GuardRoutes {
  private readonly cidrs: readonly string[];
  private readonly owner: string;
  private readonly dir: string;

  constructor(options: { cidrs: readonly string[]; owner: string; dir?: string }) {
    this.cidrs = options.cidrs;
    this.owner = options.owner.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.dir = options.dir ?? DEFAULT_GUARD_DIR;
  }

  /** Register as a holder and make sure every guard route exists. */
  async acquire(): Promise<void> {
    await this.locked(async () => {
      await writeFile(join(this.dir, `${this.owner}.holder`), `${process.pid}\n${this.cidrs.join(' ')}\n`);
      for (const cidr of this.cidrs) {
        const r = await runHostCommand('ip', ['route', 'add', 'unreachable', cidr], { allowFailure: true });
        if (r.code !== 0 && !/File exists/i.test(r.stderr)) {
          throw new MizzenError('RUNTIME_FAILED', `cannot add the guard route for ${cidr}: ${r.stderr.trim()}`);
        }
      }
    });
  }

  /** Drop this holder; remove the routes when no holder is left. */
  async release(): Promise<void> {
    const last = await this.locked(async () => {
      await rm(join(this.dir, `${this.owner}.holder`), { force: true });
      const others = (await readdir(this.dir)).filter((n) => n.endsWith('.holder'));
      if (others.length > 0) return false;
      for (const cidr of this.cidrs) await runHostCommand('ip', ['route', 'del', 'unreachable', cidr], { allowFailure: true });
      return true;
    });
    if (!last) return;
    // Leave no empty directories behind (fails harmlessly when another mesh just took the lock).
    await rmdir(this.dir).catch(() => {});
    await rmdir(dirname(this.dir)).catch(() => {});
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(this.dir, '.lock');
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await mkdir(this.dir, { recursive: true });
        await mkdir(lock);
        break;
      } catch (err) {
        // ENOENT: the last holder removed the directory in between; make it again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (Date.now() > deadline) {
          // A holder died inside the critical section: take over its stale lock.
          await rmdir(lock).catch(() => {});
          continue;
        }
        await sleep(20);
      }
    }
    try {
      return await fn();
    } finally {
      await rmdir(lock).catch(() => {});
    }
  }
}

/** Whether the root namespace has an unreachable route for exactly this CIDR. */
export async function hasGuardRoute(cidr: string): Promise<boolean> {
  const r = await runHostCommand('ip', ['route', 'show', 'type', 'unreachable'], { allowFailure: true });
  return r.stdout.split('\n').some((l) => l.trim().split(/\s+/)[1] === cidr || l.trim().split(/\s+/)[0] === cidr);
}
