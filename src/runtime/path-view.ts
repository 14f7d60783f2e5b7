import { realpathSync, statSync, readdirSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, sep } from 'node:path';

/**
 * Makes chosen paths reachable for a process that runs as another user (the sidecar as uid
 * 1337, an app with runAsUser) when a directory above them is closed to that user — the
 * checkout in root's 0700 home or in a `mktemp -d` directory. Nothing on the host changes: the
 * process starts inside the private mount namespace `ip netns exec` gives it, where a small
 * tmpfs (mode 0755, empty directories only) covers the closed directory and the needed paths
 * are bind-mounted back at their own paths, read-only. The process sees the same files at the same paths
 * (import.meta.url, caches, the node binary); everything else in the closed directory stays
 * hidden; the mounts die with the process, so a crash leaves nothing to clean up.
 */

/** Who the process will be: uid and gid, no supplementary groups (as setpriv --clear-groups). */
export interface PathViewUser {
  uid: number;
  gid: number;
}

/** One bind mount of the view: `source` appears at the same path inside the tmpfs of `cover`. */
export interface PathViewMount {
  path: string;
  directory: boolean;
}

export interface PathViewPlan {
  /** Directories closed to the user, each covered by a tmpfs (outermost only). */
  covers: string[];
  /** Paths bind-mounted back under the covers (at their own paths). */
  mounts: PathViewMount[];
}

type StatFn = (path: string) => Stats | undefined;
type ListFn = (dir: string) => string[];

const statOrUndefined: StatFn = (p) => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

/** Whether `user` may search (x) directory `st`, by its mode bits (ACLs are not read). */
export function canSearch(st: Stats, user: PathViewUser): boolean {
  if (user.uid === 0) return true;
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    out.unshift(d);
    if (d === dirname(d)) break;
  }
  return out;
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * What to mount so that `user` reaches every path of `reads` (absolute; missing ones are
 * ignored). Empty when every path is reachable already (the usual case: nothing is mounted).
 */
export function planPathView(reads: readonly string[], user: PathViewUser, stat: StatFn = statOrUndefined, list: ListFn = readdirSync): PathViewPlan {
  if (user.uid === 0) return { covers: [], mounts: [] };
  const needed: { path: string; st: Stats; cover: string }[] = [];
  for (const raw of reads) {
    if (!isAbsolute(raw)) continue;
    let path: string;
    try {
      path = realpathSync(raw);
    } catch {
      path = raw;
    }
    const st = stat(path);
    if (!st) continue;
    // The outermost closed directory above the path (or the path itself, a closed directory).
    let cover = ancestors(path).find((d) => {
      const ds = stat(d);
      return ds !== undefined && !canSearch(ds, user);
    });
    if (!cover && st.isDirectory() && !canSearch(st, user)) cover = path;
    if (cover) needed.push({ path, st, cover });
  }
  // Only the outermost covers: a cover inside another is recreated by the outer one.
  const covers = [...new Set(needed.map((n) => n.cover))].filter((c, _, all) => !all.some((o) => o !== c && under(c, o))).sort();
  const mounts: PathViewMount[] = [];
  const paths = needed.map((n) => n.path).filter((p, _, all) => !all.some((o) => o !== p && under(p, o)));
  for (const path of [...new Set(paths)].sort()) {
    const st = needed.find((n) => n.path === path)!.st;
    if (st.isDirectory() && !canSearch(st, user)) {
      // A closed directory itself (a clone into a `mktemp -d` directory): its entries, one by one.
      for (const name of list(path).sort()) {
        const child = join(path, name);
        const cs = stat(child);
        if (cs) mounts.push({ path: child, directory: cs.isDirectory() });
      }
    } else mounts.push({ path, directory: st.isDirectory() });
  }
  return { covers, mounts };
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell script that builds the view inside the process's own mount namespace, then runs
 * its arguments (`sh -c SCRIPT mizzen-path-view CMD ARGS...`). `stage` is a root-only directory
 * (its tmpfs holds the bind mounts while the covers go up).
 */
export function pathViewScript(plan: PathViewPlan, stage: string): string {
  const lines = ['set -e', 'umask 022', 'mount --make-rslave /', `mount -t tmpfs -o mode=0700,size=64k mizzen-stage ${quote(stage)}`];
  plan.mounts.forEach((m, i) => {
    const s = quote(join(stage, String(i)));
    lines.push(m.directory ? `mkdir ${s}` : `: > ${s}`, `mount --rbind ${quote(m.path)} ${s}`);
  });
  for (const c of plan.covers) lines.push(`mount -t tmpfs -o mode=0755,size=64k mizzen-view ${quote(c)}`);
  plan.mounts.forEach((m, i) => {
    const t = quote(m.path);
    lines.push(`mkdir -p ${quote(dirname(m.path))}`, m.directory ? `mkdir -p ${t}` : `: > ${t}`, `mount --rbind ${quote(join(stage, String(i)))} ${t}`, `mount -o remount,bind,ro ${t}`);
  });
  lines.push(`umount -l ${quote(stage)}`, 'exec "$@"');
  return lines.join('\n');
}

/**
 * argv prefix that gives `argv` (run as `user` inside a namespace made by `ip netns exec`, or
 * `unshare --mount`) the view of `reads`; empty when nothing is closed to the user.
 */
export function pathViewArgv(reads: readonly string[], user: PathViewUser, stage: string): string[] {
  const plan = planPathView(reads, user);
  if (plan.covers.length === 0) return [];
  return ['sh', '-c', pathViewScript(plan, stage), 'mizzen-path-view'];
}

/**
 * Why `user` cannot open `path`, if it cannot: the first directory on the way it may not enter,
 * or the file itself it may not read. For failure messages ("Cannot find module" hides EACCES).
 */
export function accessBlocker(path: string, user: PathViewUser, viewRoots: readonly string[] = [], stat: StatFn = statOrUndefined): string | undefined {
  if (user.uid === 0 || !isAbsolute(path)) return undefined;
  const describe = (p: string, st: Stats): string => `${p} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${st.uid})`;
  // Under a path the view binds back, the directories down to it are open (the view's tmpfs).
  const root = viewRoots.find((r) => under(path, r) && path !== r);
  for (const d of ancestors(path).filter((a) => !root || (under(a, root) && a !== root))) {
    const st = stat(d);
    if (!st) return undefined;
    if (!canSearch(st, user)) return `uid ${user.uid} cannot enter ${describe(d, st)}`;
  }
  const st = stat(path);
  if (!st || st.isDirectory()) return undefined;
  const readable = st.uid === user.uid ? st.mode & 0o400 : st.gid === user.gid ? st.mode & 0o040 : st.mode & 0o004;
  return readable ? undefined : `uid ${user.uid} cannot read ${describe(path, st)}`;
}
