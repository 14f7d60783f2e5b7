import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { leftovers, REPO, rootSkipReason, tempDir } from './netns-test-support.ts';

// Issue 22: the checkout lives in a directory other users cannot enter (root's 0700 home, a
// `mktemp -d` directory). This checkout is copied to TOP/mizzen, TOP being a fresh 0700
// directory (hard links where the file system allows: the same files and modes, no copy of
// node_modules' 280 MB), as after `git clone` into `mktemp -d` and `npm ci`; every command runs
// from the copy, sidecars as uid 1337.

const skip = await rootSkipReason();
const repo = realpathSync(REPO);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], cwd: string): Promise<Result> {
  // A nested `node --test` must not take itself for a child of this runner.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('a checkout in a directory other users cannot enter (0700)', { skip }, () => {
  let top: string;
  let view: string;
  let node: string;
  const prefixes: string[] = [];

  const mizzen = (args: string[]): Promise<Result> => run([node, join(view, 'bin/mizzen.js'), ...args], top);

  before(async () => {
    top = tempDir('private-checkout');
    assert.equal(statSync(top).mode & 0o777, 0o700);
    view = join(top, 'mizzen');
    mkdirSync(view);
    const entries = readdirSync(repo).filter((n) => n !== '.git' && n !== '.mizzen').map((n) => join(repo, n));
    const linked = await run(['cp', '-al', ...entries, view], top);
    if (linked.code !== 0) {
      rmSync(view, { recursive: true, force: true });
      mkdirSync(view);
      const copied = await run(['cp', '-a', ...entries, view], top);
      assert.equal(copied.code, 0, copied.stderr);
    }
    // The node binary of the node@24 devDependency lives in the checkout too.
    const exec = realpathSync(process.execPath);
    node = exec.startsWith(`${repo}/`) ? join(view, relative(repo, exec)) : exec;
    const echo = join(view, 'test/runtime/fixtures/echo-server.ts');
    writeFileSync(
      join(top, 'app.yaml'),
      `apiVersion: v1
kind: Namespace
metadata: {name: private, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: private}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: private}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, command: ["node", "${echo}"], ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /ready, port: 8080}}}
`,
    );
  });

  after(async () => {
    if (!top) return;
    await mizzen(['down', '--state-dir', join(top, 'state')]);
    await mizzen(['down', '--state-dir', join(top, 'state-denied')]);
    const left = (await Promise.all(prefixes.map((p) => leftovers(p, [])))).flat();
    rmSync(top, { recursive: true, force: true });
    assert.deepEqual(left, []);
  });

  it('is closed to uid 1337 (the premise)', async () => {
    const r = await run(['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups', 'cat', join(view, 'package.json')], top);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
  });

  it('runs a mesh whose sidecars (uid 1337) run the proxy from it, and removes it on down', async () => {
    const state = join(top, 'state');
    const up = await mizzen(['up', '-d', 'app.yaml', '--state-dir', state, '--timeout', '150s']);
    const prefix = readMeshState(state)?.prefix;
    if (prefix) prefixes.push(prefix);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /mesh is ready/);
    const pods = JSON.parse((await mizzen(['get', 'pods', '-n', 'private', '-o', 'json', '--state-dir', state])).stdout) as {
      items: { status: { containerStatuses: { name: string; ready: boolean; containerID: string }[] } }[];
    };
    const proxy = pods.items[0].status.containerStatuses.find((c) => c.name === 'istio-proxy');
    assert.ok(proxy?.ready, 'the sidecar is ready');
    // get pods shows a container's process as containerID pid://PID (and in the PID column of -o wide).
    const pid = Number(/^pid:\/\/(\d+)$/.exec(proxy.containerID)?.[1]);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+1337\s/m);
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(view, 'bin/mizzen.js')), 'the proxy runs the code under the closed directory');
    // The app calls its own Service: out through its sidecar's capture, in through it again.
    const call = await mizzen(['exec', '-n', 'private', 'deploy/web', '--state-dir', state, '--', 'curl', '-s', '-m', '10', 'http://web.private/through-the-sidecar']);
    assert.equal(call.code, 0, call.stderr);
    assert.equal((JSON.parse(call.stdout) as { path: string }).path, '/through-the-sidecar');
    const down = await mizzen(['down', '--state-dir', state]);
    assert.equal(down.code, 0, down.stderr);
    if (prefix) assert.deepEqual(await leftovers(prefix, [pid]), []);
  });

  it('says at once why a sidecar cannot start: a file of its code it may not read', async () => {
    // The copy's bin/strip-cache.js (a file of its own, not a link) only root may read.
    const denied = join(view, 'bin/strip-cache.js');
    rmSync(denied);
    copyFileSync(join(repo, 'bin/strip-cache.js'), denied);
    chmodSync(denied, 0o600);
    const state = join(top, 'state-denied');
    const started = Date.now();
    const up = await mizzen(['up', '-d', 'app.yaml', '--state-dir', state, '--timeout', '150s']);
    const prefix = readMeshState(state)?.prefix;
    if (prefix) prefixes.push(prefix);
    assert.equal(up.code, 1, up.stdout);
    assert.ok(Date.now() - started < 100_000, `up -d gave up before its timeout (${Date.now() - started} ms)`);
    assert.match(up.stderr, /the mesh cannot start:\n {2}pod private\/web-\S+ container istio-proxy: CrashLoopBackOff, exit code 1 \(3 runs in a row\): Error: EACCES: permission denied, open '[^']*\/bin\/strip-cache\.js'/);
    assert.match(up.stderr, /strip-cache\.js' \[uid 1337 cannot read \S+\/bin\/strip-cache\.js \(mode 0600, owner uid 0\)\]/);
    assert.match(up.stderr, /chmod -R o\+rX/);
    const pods = await mizzen(['get', 'pods', '-n', 'private', '--state-dir', state]);
    assert.match(pods.stdout, /web-\S+\s+1\/2\s+(CrashLoopBackOff|Running)/);
    assert.match(pods.stderr, /Warning: pod private\/web-\S+ container istio-proxy: .*EACCES: permission denied/);
    const logs = await mizzen(['logs', '-n', 'private', 'deploy/web', '-c', 'istio-proxy', '--state-dir', state]);
    assert.match(logs.stdout, /Error: EACCES: permission denied, open '[^']*strip-cache\.js'/);
    const down = await mizzen(['down', '--state-dir', state]);
    assert.equal(down.code, 0, down.stderr);
    chmodSync(denied, 0o644);
  });

  it('passes the tests that run processes as other users (stand-in sidecars as uid 1337)', async () => {
    const r = await run([node, '--test', '--test-reporter=tap', join(view, 'test/runtime/capture.test.ts')], top);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^# pass [1-9]/m);
    assert.match(r.stdout, /^# fail 0$/m);
  });
});
