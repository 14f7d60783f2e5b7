/**
 * `npm test`: type check, import boundaries, then every test file with node:test.
 * Extra arguments are passed to node --test (e.g. a single file).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function run(label: string, cmd: string, args: string[]): void {
  process.stdout.write(`\n> ${label}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stdout.write(`\n${label} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

function testFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) testFiles(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const extra = process.argv.slice(2);
if (extra.length === 0) {
  run('type check (tsc --noEmit)', 'node_modules/.bin/tsc', ['--noEmit', '-p', '.']);
  run('import boundaries (dependency-cruiser)', 'node_modules/.bin/depcruise', ['--config', '.dependency-cruiser.cjs', 'src']);
}
const files = extra.length > 0 ? extra : [...testFiles('src'), ...testFiles('test')].sort();
run('tests (node --test)', process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files]);
