import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).href;

/**
 * Import `modules` in a fresh node process and return every module specifier it resolved
 * (node: built-ins and packages): what the proxy's memory pays for at start.
 */
function resolvedBy(modules: string[]): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url.startsWith('node:') ? r.url : s); return r; } });
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(SRC)}).href);
    process.stdout.write(JSON.stringify([...seen]));
  `;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }, (e, stdout, stderr) => (e ? reject(new Error(stderr)) : resolve(JSON.parse(stdout) as string[]))),
  );
}

describe('what the proxy loads at start', () => {
  it('does not load prom-client, jose, node:http or the .proto parser for its runtime (sidecar composition)', async () => {
    const loaded = await resolvedBy(['data/sidecar.ts', 'data/router.ts']);
    for (const absent of ['prom-client', 'jose', 'node:http', 'node:https', '@grpc/grpc-js']) assert.ok(!loaded.includes(absent), `${absent} not loaded (loaded: ${loaded.filter((m) => !m.startsWith('.')).join(' ')})`);
  });

  it('loads node:http2 for listeners only with the first HTTP/2 connection', async () => {
    const loaded = await resolvedBy(['data/listener/listener-manager.ts']);
    assert.ok(!loaded.includes('node:http2'), 'node:http2 not loaded by the listener manager');
    assert.ok(!loaded.includes('node:http'), 'node:http not loaded by the listener manager');
  });
});
