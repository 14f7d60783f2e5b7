import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

/**
 * Bring the CLI's type-stripped cache (bin/strip-cache.js) up to date before starting proxies.
 * Sidecars run as uid 1337 and cannot write the cache: a source file changed since `npm ci`
 * (a pull, a rebase, an edit) would make every sidecar load Node's TypeScript stripper and strip
 * at each start (~20 MB more RSS per proxy, measured in BENCHMARKS.md). Run as the invoking user
 * (root for `mizzen up`/`mizzen node`); ~0.5 s when nothing changed. Returns an error message
 * when it could not run (the proxies then still work, only heavier).
 */
export function refreshStripCache(cliEntry: string): string | undefined {
  try {
    execFileSync(process.execPath, [join(dirname(cliEntry), 'strip-cache.js')], { stdio: 'ignore', timeout: 120_000 });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
