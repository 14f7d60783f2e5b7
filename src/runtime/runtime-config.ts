import { resolve } from 'node:path';
import { MizzenError } from '../lib/errors.ts';

/** Defaults of a local mesh (Kubernetes' usual pod and service CIDRs). */
export const DEFAULT_POD_CIDR = '10.244.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
export const DEFAULT_STATE_DIR = '.mizzen';

/** The state directory: --state-dir, or `.mizzen/` in the current directory. */
export function stateDirFrom(flag: string | undefined, cwd: string): string {
  return resolve(cwd, flag ?? DEFAULT_STATE_DIR);
}

/**
 * `mizzen up` and friends change network namespaces, routes and nft tables: they need Linux and
 * root. `uid` is injectable so the refusal is testable without another user.
 */
export function requireRootLinux(command: string, uid: number | undefined = process.getuid?.(), platform: string = process.platform): void {
  if (platform !== 'linux') {
    throw new MizzenError('RUNTIME_NOT_ROOT', `mizzen ${command} needs Linux (network namespaces, nftables); this is ${platform}`, {
      hint: 'run it on a Linux machine or VM',
    });
  }
  if (uid !== 0) {
    throw new MizzenError('RUNTIME_NOT_ROOT', `mizzen ${command} needs root: it creates network namespaces, veths, routes and nft tables`, {
      hint: `run it with sudo (e.g. sudo npx mizzen ${command} ...)`,
    });
  }
}

/** The environment containers and sidecars start from (never the whole caller environment). */
export function baseProcessEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {
    PATH: env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp',
    LANG: env.LANG ?? 'C.UTF-8',
  };
  if (env.MIZZEN_LOG) out.MIZZEN_LOG = env.MIZZEN_LOG;
  return out;
}

/** Host tools `mizzen up` runs, with the Debian/Ubuntu package that has each. */
const HOST_TOOLS: readonly [string, string][] = [
  ['ip', 'iproute2'],
  ['nft', 'nftables'],
  ['setpriv', 'util-linux'],
  ['curl', 'curl'],
  ['timeout', 'coreutils'],
  ['bash', 'bash'],
  // the path view of sidecars whose checkout is under a closed directory (path-view.ts)
  ['mount', 'mount'],
];

/** Refuse clearly when a host tool is missing (instead of failing halfway through). */
export function requireHostTools(pathEnv: string | undefined, exists: (file: string) => boolean): void {
  const dirs = (pathEnv ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean);
  const missing = HOST_TOOLS.filter(([tool]) => !dirs.some((d) => exists(`${d}/${tool}`)));
  if (missing.length === 0) return;
  throw new MizzenError('RUNTIME_FAILED', `mizzen up needs ${missing.map(([t]) => t).join(', ')} on PATH`, {
    hint: `install them (e.g. apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')})`,
  });
}
