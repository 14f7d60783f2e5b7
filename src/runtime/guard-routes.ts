import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MizzenError } from '../lib/errors.ts';
import { runHostCommand } from './host-command.ts';
import { currentProcessIdentity, processRunning, type ProcessIdentity } from './process-identity.ts';

/**
 * The safety net of `mizzen up`: `ip route add unreachable CIDR` in the root namespace for the
 * pod and service CIDRs, so no packet for a mesh address can leave the machine. Several meshes
 * (or test runs) may share a CIDR: each holder registers a file under `dir` naming its process
 * and its CIDRs, and a CIDR's route goes away when its last holder releases it. Holders whose
 * process is gone (a crashed mesh, a killed test) are dropped on the next acquire or release.
 * A mkdir lock serialises the check-and-change.
 */
export const DEFAULT_GUARD_DIR = '/run/mizzen/guards';

/** One registered holder: who (process) and which CIDRs. */
export interface GuardHolder {
  owner: string;
  process: ProcessIdentity;
  cidrs: string[];
}

function parseHolder(owner: string, text: string): GuardHolder {
  const [who = '', cidrs = ''] = text.split('\n');
  const [pid, startTime] = who.trim().split(/\s+/);
  return { owner, process: { pid: Number(pid), startTime: startTime || undefined }, cidrs: cidrs.trim().split(/\s+/).filter(Boolean) };
}

/** Every holder registered under `dir` (live or not). */
export async function readGuardHolders(dir = DEFAULT_GUARD_DIR): Promise<GuardHolder[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: GuardHolder[] = [];
  for (const name of names.filter((n) => n.endsWith('.holder'))) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) out.push(parseHolder(name.slice(0, -'.holder'.length), text));
  }
  return out;
}

export class GuardRoutes {
  private readonly cidrs: readonly string[];
  private readonly owner: string;
  private readonly dir: string;

  constructor(options: { cidrs: readonly string[]; owner: string; dir?: string }) {
    this.cidrs = options.cidrs;
    this.owner = options.owner.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.dir = options.dir ?? DEFAULT_GUARD_DIR;
  }

  /** Register as a holder of this mesh's CIDRs and make sure each has its guard route. */
  async acquire(): Promise<void> {
    await this.locked(async () => {
      await this.dropDeadHolders([], this.cidrs);
      const me = currentProcessIdentity();
      await writeFile(join(this.dir, `${this.owner}.holder`), `${me.pid} ${me.startTime ?? ''}\n${this.cidrs.join(' ')}\n`);
      for (const cidr of this.cidrs) {
        const r = await runHostCommand('ip', ['route', 'add', 'unreachable', cidr], { allowFailure: true });
        if (r.code !== 0 && !/File exists/i.test(r.stderr)) {
          throw new MizzenError('RUNTIME_FAILED', `cannot add the guard route for ${cidr}: ${r.stderr.trim()}`);
        }
      }
    });
  }

  /** Drop this holder; remove the route of each of its CIDRs that no other holder still holds. */
  async release(): Promise<void> {
    const empty = await this.locked(async () => {
      const mine = await readGuardHolders(this.dir).then((all) => all.find((h) => h.owner === this.owner));
      await rm(join(this.dir, `${this.owner}.holder`), { force: true });
      await this.dropDeadHolders([...this.cidrs, ...(mine?.cidrs ?? [])]);
      return (await readGuardHolders(this.dir)).length === 0;
    });
    if (!empty) return;
    // Leave no empty directories behind (fails harmlessly when another mesh just took the lock).
    await rmdir(this.dir).catch(() => {});
    await rmdir(dirname(this.dir)).catch(() => {});
  }

  /**
   * Remove the holders whose process is gone, then the routes of `released` and of the dead
   * holders' CIDRs that no live holder holds (nor `keep`). Runs under the lock.
   */
  private async dropDeadHolders(released: readonly string[], keep: readonly string[] = []): Promise<void> {
    const holders = (await readGuardHolders(this.dir)).filter((h) => h.owner !== this.owner);
    const dead = holders.filter((h) => !processRunning(h.process));
    for (const h of dead) await rm(join(this.dir, `${h.owner}.holder`), { force: true });
    const held = new Set([...keep, ...holders.filter((h) => !dead.includes(h)).flatMap((h) => h.cidrs)]);
    const candidates = new Set([...released, ...dead.flatMap((h) => h.cidrs)]);
    for (const cidr of candidates) {
      if (!held.has(cidr)) await runHostCommand('ip', ['route', 'del', 'unreachable', cidr], { allowFailure: true });
    }
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
