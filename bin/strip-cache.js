// Ahead-of-time type stripping for the CLI: a synchronous module hook (module.registerHooks, no
// loader thread) serves each src/**/*.ts from a cache of type-stripped JavaScript, so a process
// whose modules are all cached never loads Node's TypeScript stripper (~18 MB of RSS per
// process: measured 61 MB for an empty .ts script vs 43 MB for .js). URLs and specifiers stay the
// original .ts ones (import.meta.url-relative files keep working); stripping keeps every
// position, so stack traces are unchanged. A cache entry is valid while the source's size and
// mtime match the stamp on its last line; a miss strips the file (loading the stripper once) and
// writes the entry when the cache is writable. `node bin/strip-cache.js` fills the whole cache
// (npm `prepare`), e.g. before starting sidecars as a user that cannot write it.
// Namespace import: on a Node without these exports (npm `prepare` under an old system node) the
// module still loads and the cache is simply not used.
import * as nodeModule from 'node:module';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SRC_ROOT = join(repo, 'src');
export const CACHE_ROOT = join(repo, 'node_modules', '.cache', 'mizzen-js');

function stampOf(file) {
  const st = statSync(file);
  return `\n//# mizzen-strip ${st.size} ${st.mtimeMs}\n`;
}

/** The stripped JavaScript of one source file, from the cache or freshly stripped (and cached). */
export function strippedSource(file, srcRoot = SRC_ROOT, cacheRoot = CACHE_ROOT) {
  const stamp = stampOf(file);
  const cached = join(cacheRoot, `${relative(srcRoot, file)}.js`);
  try {
    const text = readFileSync(cached, 'utf8');
    if (text.endsWith(stamp)) return text;
  } catch {
    // not cached yet
  }
  const emitWarning = process.emitWarning;
  process.emitWarning = () => undefined; // the one-time ExperimentalWarning of stripTypeScriptTypes
  let js;
  try {
    js = nodeModule.stripTypeScriptTypes(readFileSync(file, 'utf8'), { mode: 'strip' }) + stamp;
  } finally {
    process.emitWarning = emitWarning;
  }
  try {
    mkdirSync(dirname(cached), { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, js);
    renameSync(tmp, cached);
  } catch {
    // read-only cache (e.g. a sidecar running as 1337): serve it uncached
  }
  return js;
}

/** Serve src/**\/*.ts through the cache (no-op on a Node without module.registerHooks). */
export function installStripCache(srcRoot = SRC_ROOT, cacheRoot = CACHE_ROOT) {
  if (typeof nodeModule.registerHooks !== 'function' || typeof nodeModule.stripTypeScriptTypes !== 'function') return false;
  const prefix = pathToFileURL(srcRoot + sep).href;
  nodeModule.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(prefix) || !url.endsWith('.ts')) return nextLoad(url, context);
      return { format: 'module', source: strippedSource(fileURLToPath(url), srcRoot, cacheRoot), shortCircuit: true };
    },
  });
  return true;
}

/** Strip every non-test source file into the cache; returns how many files. */
export function fillStripCache(srcRoot = SRC_ROOT, cacheRoot = CACHE_ROOT) {
  let n = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) {
        strippedSource(p, srcRoot, cacheRoot);
        n++;
      }
    }
  };
  walk(srcRoot);
  return n;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (typeof nodeModule.stripTypeScriptTypes !== 'function') {
    process.stdout.write(`node ${process.version} cannot type-strip ahead of time; the CLI will strip at start\n`);
    process.exit(0);
  }
  const n = fillStripCache();
  process.stdout.write(`type-stripped ${n} files into ${CACHE_ROOT}\n`);
  // the proxy's pruned Envoy descriptor (src/api/xds/proxy-envoy-root.ts), so that sidecars that
  // cannot write the cache (uid 1337) do not parse the .proto files at every start
  const { proxyEnvoyDescriptor, PROXY_ENVOY_ROOT_CACHE } = await import('../src/api/xds/proxy-envoy-root.ts');
  const { built } = proxyEnvoyDescriptor();
  process.stdout.write(`${built ? 'wrote' : 'kept'} the proxy's Envoy descriptor ${PROXY_ENVOY_ROOT_CACHE}\n`);
  // and the discovery messages alone, for ztunnel and the waypoint's workload-API client
  const { discoveryEnvoyDescriptor, DISCOVERY_ENVOY_ROOT_CACHE } = await import('../src/api/xds/proxy-envoy-root.ts');
  const small = discoveryEnvoyDescriptor();
  process.stdout.write(`${small.built ? 'wrote' : 'kept'} the workload-API client's Envoy descriptor ${DISCOVERY_ENVOY_ROOT_CACHE}\n`);
}
