import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEchoBackend } from '../xds/support/echo-backends.ts';

/**
 * The generated proxyless resources as gRPC C-core sees them: Debian's python3-grpcio (C-core
 * 1.51) dialling `xds:///HOST:PORT` against a real `mizzen discovery`. Skipped when no Python
 * with grpcio is installed (`apt-get install python3-grpcio`).
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT = join(REPO, 'test/support/grpc-c-core-echo-client.py');
const HOST = 'echo.example.com';
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import grpc'], { stdio: 'ignore' }).status === 0);

function writeConfig(dir: string, p1: number, p2: number, w1: number, w2: number): void {
  writeFileSync(
    join(dir, 'echo.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: default}
spec: {hosts: [${HOST}], ports: [{number: 7070, name: grpc, protocol: GRPC}], resolution: STATIC, location: MESH_INTERNAL, workloadSelector: {labels: {app: echo}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${p1}}, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v2, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${p2}}, labels: {app: echo, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec: {host: ${HOST}, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [${HOST}]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: ${HOST}, subset: v2}}]
  - route:
    - {destination: {host: ${HOST}, subset: v1}, weight: ${w1}}
    - {destination: {host: ${HOST}, subset: v2}, weight: ${w2}}
`,
  );
}

interface Run {
  counts: Record<string, number>;
  errors: number;
  last: string;
}

describe('proxyless gRPC C-core client (python3-grpcio)', { skip: PYTHON ? false : 'no python3 with grpcio (apt-get install python3-grpcio)' }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mizzen-c-core-'));
  const dir = join(tmp, 'config');
  const backends: { port: number; close(): void }[] = [];
  let discovery: ChildProcess | undefined;
  let bootstrap = '';

  before(async () => {
    mkdirSync(dir);
    backends.push(await startEchoBackend('v1'), await startEchoBackend('v2'));
    writeConfig(dir, backends[0]!.port, backends[1]!.port, 80, 20);
    discovery = spawn(process.execPath, ['bin/mizzen.js', 'discovery', '--config', dir, '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
      cwd: REPO,
      env: { ...process.env, PILOT_DEBOUNCE_AFTER: '50ms', MIZZEN_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const banner = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: discovery!.stdout! });
      rl.once('line', resolve);
      discovery!.once('exit', (code) => reject(new Error(`discovery exited (${code}) before its banner`)));
    });
    const m = /xDS (\S+?),/.exec(banner);
    assert.ok(m, `unexpected banner: ${banner}`);
    bootstrap = join(tmp, 'bootstrap.json');
    writeFileSync(
      bootstrap,
      JSON.stringify({
        xds_servers: [{ server_uri: m[1], channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
        node: { id: 'sidecar~127.0.0.1~c-core-client.default~default.svc.cluster.local', metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' }, locality: {} },
      }),
    );
  });

  after(async () => {
    if (discovery && discovery.exitCode === null) {
      const exited = new Promise((r) => discovery!.once('exit', r));
      discovery.kill('SIGTERM');
      await exited;
    }
    for (const b of backends) b.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = (calls: number, header?: string): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(PYTHON!, [CLIENT, `xds:///${HOST}:7070`, String(calls), ...(header ? [header] : [])], {
        env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += String(c)));
      child.stderr.on('data', (c) => (err = (err + String(c)).slice(-2000)));
      child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`client exit ${code}: ${err}`))));
    });

  it('splits calls about 80/20 by the VirtualService weights', async () => {
    const r = await run(200);
    assert.equal(r.errors, 0, r.last);
    const v1 = r.counts.v1 ?? 0;
    assert.ok(v1 >= 135 && v1 <= 185, `v1 got ${v1}/200: ${JSON.stringify(r.counts)}`);
  });

  it('sends every call with the matching header to its subset', async () => {
    const r = await run(50, 'x-canary');
    assert.deepEqual(r.counts, { v2: 50 });
  });

  it('follows a file edit to 50/50', async () => {
    writeConfig(dir, backends[0]!.port, backends[1]!.port, 50, 50);
    const deadline = Date.now() + 30_000;
    let last: Run | undefined;
    while (Date.now() < deadline) {
      last = await run(200);
      const v1 = last.counts.v1 ?? 0;
      if (last.errors === 0 && v1 >= 70 && v1 <= 130) return;
    }
    assert.fail(`no 50/50 split within 30 s (last: ${JSON.stringify(last)})`);
  });
});
