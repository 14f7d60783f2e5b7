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
// The proxy's V8 flags (BENCHMARKS.md, data-plane memory): a small young generation (2 MB
// semi-spaces instead of V8's 16 MB: ~159 → ~130 MB RSS per sidecar under 1,000 rps at the same
// CPU) and no Maglev mid-tier compiler (~10 MB less under load, CPU per request unchanged within
// noise: hot code still reaches TurboFan). V8 takes them only at start, so the process
// re-executes itself in place (same pid, nothing left behind) with those not given explicitly.
const PROXY_V8_FLAGS = [
  { given: (a) => a.startsWith('--max-semi-space-size'), flag: '--max-semi-space-size=2' },
  { given: (a) => a === '--maglev' || a === '--no-maglev', flag: '--no-maglev' },
];
const missingProxyFlags = PROXY_V8_FLAGS.filter((f) => !process.execArgv.some(f.given)).map((f) => f.flag);
if (process.argv[2] === 'proxy' && typeof process.execve === 'function' && missingProxyFlags.length > 0) {
  process.execve(process.execPath, [process.execPath, ...missingProxyFlags, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
// Serve the sources as cached type-stripped JavaScript (bin/strip-cache.js): ~18 MB less per process.
const { installStripCache } = await import('./strip-cache.js');
installStripCache();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
