import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, normalize, sep } from 'node:path';

/**
 * A container's volume mounts, made inside the private mount namespace `ip netns exec` gives
 * each container process: every volume directory (or subPath file) is bind-mounted at its
 * `mountPath`. A mount path whose directories do not exist on this machine
 * (`/var/run/secrets/tokens`, `/etc/istio/proxy`) is made inside an overlay of its deepest
 * existing ancestor (a tmpfs upper layer), so nothing is created on the host. The files `ip netns
 * exec` binds over /etc (hosts, resolv.conf) are bound again when /etc is overlaid.
 */
export interface ContainerMount {
  /** The volume's directory or file on this machine. */
  source: string;
  /** Where the container sees it. */
  target: string;
  readOnly: boolean;
}

export interface MountPlan {
  /** Existing directories covered by an overlay (outermost only). */
  overlays: string[];
  mounts: (ContainerMount & { directory: boolean })[];
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Why a mount path cannot be made here, or undefined. */
export function mountPathProblem(target: string, exists: (p: string) => boolean = existsSync): string | undefined {
  if (!isAbsolute(target)) return `mountPath ${target} is not absolute`;
  const t = normalize(target);
  if (exists(t)) return undefined;
  let d = dirname(t);
  while (!exists(d)) d = dirname(d);
  if (d === '/') return `mountPath ${target}: /${t.split(sep)[1]} does not exist on this machine, and mizzen node overlays only existing directories below /`;
  return undefined;
}

/** The overlays and binds for `mounts` (sources must exist). */
export function planMounts(mounts: readonly ContainerMount[], exists: (p: string) => boolean = existsSync, isDirectory: (p: string) => boolean = (p) => statSync(p).isDirectory()): MountPlan {
  const covers = new Set<string>();
  for (const m of mounts) {
    const t = normalize(m.target);
    if (exists(t)) continue;
    let d = dirname(t);
    while (!exists(d)) d = dirname(d);
    if (d !== '/') covers.add(d);
  }
  const overlays = [...covers].filter((c) => ![...covers].some((o) => o !== c && under(c, o))).sort();
  return { overlays, mounts: mounts.map((m) => ({ ...m, target: normalize(m.target), directory: isDirectory(m.source) })) };
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell script that builds the plan in the process's mount namespace and then runs its
 * arguments. `stage` is a root-only directory (a tmpfs there holds the overlays' upper layers and
 * the sources while the overlays go up); `netns` names the /etc/netns files to bind again.
 */
export function mountScript(plan: MountPlan, stage: string, netns: string): string {
  // The stage is reached through fd 3 once it is mounted: an overlay of one of its ancestors
  // (/run, when a mountPath is /var/run/secrets/...) hides its path but not the open directory.
  const st = '/proc/self/fd/3';
  const lines = ['set -e', 'umask 022', 'mount --make-rslave /', `mount -t tmpfs -o mode=0700,size=1m mizzen-mounts ${quote(stage)}`, `exec 3< ${quote(stage)}`];
  // Sources first, through the host's tree (an overlay must not sit between them and their files).
  plan.mounts.forEach((m, i) => {
    const s = quote(`${st}/m${i}`);
    lines.push(m.directory ? `mkdir ${s}` : `: > ${s}`, `mount --rbind ${quote(m.source)} ${s}`);
  });
  const etcCovered = plan.overlays.some((o) => under('/etc', o));
  if (etcCovered) lines.push(`mkdir ${quote(`${st}/etc`)}`, `for f in /etc/netns/${netns}/*; do [ -e "$f" ] || continue; n=$(basename "$f"); : > ${quote(`${st}/etc`)}/"$n"; mount --bind "$f" ${quote(`${st}/etc`)}/"$n"; done`);
  plan.overlays.forEach((o, i) => {
    lines.push(`mkdir ${quote(`${st}/u${i}`)} ${quote(`${st}/w${i}`)}`, `mount -t overlay mizzen-overlay -o ${quote(`lowerdir=${o},upperdir=${st}/u${i},workdir=${st}/w${i}`)} ${quote(o)}`);
  });
  if (etcCovered) lines.push(`for f in ${quote(`${st}/etc`)}/*; do [ -e "$f" ] || continue; n=$(basename "$f"); [ -e /etc/"$n" ] || : > /etc/"$n"; mount --bind "$f" /etc/"$n"; done`);
  plan.mounts.forEach((m, i) => {
    const t = quote(m.target);
    lines.push(`mkdir -p ${quote(dirname(m.target))}`, m.directory ? `mkdir -p ${t}` : `[ -e ${t} ] || : > ${t}`, `mount --rbind ${quote(`${st}/m${i}`)} ${t}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${t}`);
  });
  // Hidden already when an overlay covers it; the mounts live as long as the container's namespace.
  lines.push(`umount -l ${quote(stage)} 2>/dev/null || :`, 'exec 3<&-', 'exec "$@"');
  return lines.join('\n');
}

/** argv prefix that runs `argv` with `mounts` made (empty without mounts). */
export function mountArgv(mounts: readonly ContainerMount[], stage: string, netns: string): string[] {
  if (mounts.length === 0) return [];
  return ['sh', '-c', mountScript(planMounts(mounts), stage, netns), 'mizzen-mounts'];
}
