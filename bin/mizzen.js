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
// Serve the sources as cached type-stripped JavaScript (bin/strip-cache.js): ~18 MB less per process.
const { installStripCache } = await import('./strip-cache.js');
installStripCache();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
