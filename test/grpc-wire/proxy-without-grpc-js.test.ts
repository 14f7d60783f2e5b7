import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./support/record-resolutions.ts', import.meta.url));

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [MIZZEN, ...args], { encoding: 'utf8' }, (e, stdout, stderr) => (e ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

describe('mizzen proxy without @grpc/grpc-js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-no-grpcjs-'));
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets its certificate and config over TLS with a token from real discovery, never resolving @grpc/grpc-js', async () => {
    const configDir = join(dir, 'config');
    const caDir = join(dir, 'ca');
    mkdirSync(configDir);
    const discovery = spawn(process.execPath, [MIZZEN, 'discovery', '--config', configDir, '--ca-dir', caDir, '--grpc-addr', '127.0.0.1:0', '--secure-grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MIZZEN_LOG: 'warn' },
    });
    children.push(discovery);
    let dout = '';
    discovery.stdout!.on('data', (d: Buffer) => (dout += d));
    discovery.stderr!.on('data', (d: Buffer) => (dout += d));
    await waitUntil(() => /xDS\+TLS (\S+)/.test(dout) || discovery.exitCode !== null, 'discovery to start');
    const tlsAddress = /xDS\+TLS ([^\s,]+)/.exec(dout)?.[1];
    assert.ok(tlsAddress, `discovery did not start:\n${dout}`);

    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, await cli(['token', '--ca-dir', caDir, '--namespace', 'default', '--service-account', 'web']));
    const resolutions = join(dir, 'resolutions.txt');
    writeFileSync(resolutions, '');
    const proxy = spawn(process.execPath, ['--import', PRELOAD, MIZZEN, 'proxy', 'sidecar', '--discovery', tlsAddress, '--ca-root', join(caDir, 'root-cert.pem'), '--token-file', tokenFile,
      '--admin-port', '0', '--readiness-port', '0', '--prometheus-port', 'none', '--merged-metrics-port', 'none', '--outbound-port', '0', '--inbound-port', '0',
      '--ip', '127.0.0.1', '--pod', 'web-1', '--namespace', 'default', '--service-account', 'web', '--drain-grace', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MIZZEN_LOG: 'warn', MIZZEN_TEST_RESOLUTIONS: resolutions },
    });
    children.push(proxy);
    let pout = '';
    proxy.stdout!.on('data', (d: Buffer) => (pout += d));
    proxy.stderr!.on('data', (d: Buffer) => (pout += d));
    await waitUntil(() => /admin 127\.0\.0\.1:(\d+)/.test(pout) || proxy.exitCode !== null, 'proxy to start');
    assert.equal(proxy.exitCode, null, `proxy exited:\n${pout}`);
    const admin = Number(/admin 127\.0\.0\.1:(\d+)/.exec(pout)![1]);
    const ready = Number(/ready :(\d+)/.exec(pout)![1]);

    // xDS over TLS (server name istiod.istio-system.svc, Bearer token) and the workload certificate from the CA.
    await waitUntil(async () => (await get(ready, '/healthz/ready')).status === 200, `readiness after ADS over TLS:\n${pout}`);
    await waitUntil(async () => (await get(admin, '/certs')).body.includes('spiffe://cluster.local/ns/default/sa/web'), `a workload certificate from the CA:\n${pout}`);
    const dump = await get(admin, '/config_dump');
    assert.match(dump.body, /virtualOutbound/, 'listeners from discovery');

    const lines = readFileSync(resolutions, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.some((l) => l.includes('/src/data/xds-client/ads-client.ts')), 'the preload saw the proxy load its ADS client');
    assert.ok(lines.some((l) => l.includes('/src/agent/ca-client.ts')), 'the preload saw the proxy load its CA client');
    const grpcJs = lines.filter((l) => /(^|\t|\/)@grpc\/grpc-js(\/|\t|$)/.test(l) || l.includes('/node_modules/@grpc/grpc-js/'));
    assert.deepEqual(grpcJs, [], 'no module of @grpc/grpc-js resolved in the proxy process');
  });
});
