#!/usr/bin/env node
// Entry point: Node >= 22.18 runs the TypeScript sources directly (type stripping).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `mizzen needs Node >= 22.18 (this is ${process.version}). ` +
      'Run it through npm (npx mizzen ...), which uses the node@24 devDependency, or install Node 24.\n',
  );
  process.exit(1);
}
// The proxy runs with a small young generation (2 MB semi-spaces instead of V8's 16 MB): measured
// ~159 → ~130 MB RSS per sidecar under 1,000 rps at the same CPU. V8 takes the flag only at start,
// so the process re-executes itself in place (same pid, nothing left behind) unless the flag is set.
// `--no-maglev` (~10 MB less under load, same CPU per request) was tried and rejected: without the
// mid-tier compiler the netns bench's P90/P99 after a 2 s warm-up went from ~2 / 10–30 ms to
// 2.6–1,272 / 105–1,445 ms (BENCHMARKS.md, data-plane memory).
if (process.argv[2] === 'proxy' && typeof process.execve === 'function' && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
  process.execve(process.execPath, [process.execPath, '--max-semi-space-size=2', ...process.execArgv, ...process.argv.slice(1)], process.env);
}
// Serve the sources as cached type-stripped JavaScript (bin/strip-cache.js): ~18 MB less per process.
const { installStripCache } = await import('./strip-cache.js');
installStripCache();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
