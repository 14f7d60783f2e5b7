import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MizzenError } from '../../src/lib/errors.ts';
import { requireHostTools, requireRootLinux } from '../../src/runtime/runtime-config.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { pathViewArgv } from '../../src/runtime/path-view.ts';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor, freePort } from './netns-test-support.ts';

const skip = await rootSkipReason();
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');

function cli(args: string[], options: { cwd: string; prefix?: string[] }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const argv = [...(options.prefix ?? []), process.execPath, CLI_ENTRY, ...args];
    const child = spawn(argv[0], argv.slice(1), { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('requireRootLinux', () => {
  it('refuses a non-root user and a non-Linux platform with a clear message', () => {
    assert.throws(
      () => requireRootLinux('up', 1000, 'linux'),
      (err: unknown) => err instanceof MizzenError && err.code === 'RUNTIME_NOT_ROOT' && /mizzen up needs root.*hint: run it with sudo/s.test(err.describe()),
    );
    assert.throws(() => requireRootLinux('up', 0, 'darwin'), /needs Linux/);
    assert.doesNotThrow(() => requireRootLinux('up', 0, 'linux'));
  });
});

describe('requireHostTools', () => {
  it('names the missing tools and the packages to install', () => {
    assert.throws(
      () => requireHostTools('/bin', (f) => f === '/bin/ip' || f === '/bin/bash'),
      (err: unknown) => err instanceof MizzenError && /needs nft, setpriv, curl, timeout, mount on PATH.*apt-get install nftables util-linux curl coreutils mount/s.test(err.describe()),
    );
    assert.doesNotThrow(() => requireHostTools('/bin', () => true));
  });
});

describe('mizzen up/get/apply/logs/exec/down (CLI)', { skip }, () => {
  let dir: string;
  let port: number;
  let prefix = '';

  before(async () => {
    dir = tempDir('cli');
    port = await freePort();
    writeFileSync(
      join(dir, 'app.yaml'),
      `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, command: ["node", "${ECHO}"], ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /ready, port: 8080}}}
`,
    );
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to run when not root, without a stack trace', async () => {
    // As nobody, wherever the checkout lives (a 0700 parent too): the same view the sidecars get.
    const stage = join(dir, 'stage');
    mkdirSync(stage, { mode: 0o700, recursive: true });
    const nobody = { uid: 65534, gid: 65534 };
    const view = pathViewArgv([REPO, dirname(process.execPath)], nobody, stage);
    const prefix = [...(view.length > 0 ? ['unshare', '--mount', ...view] : []), 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const r = await cli(['up', '-d', 'app.yaml'], { cwd: dir, prefix });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: mizzen up needs root/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('runs a mesh in the background, reports it, and removes everything on down', async () => {
    const up = await cli(['up', '-d', 'app.yaml', '--expose', `default/web:80=${port}`, '--no-control-plane', '--sidecars', 'off'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /mesh is ready/);
    assert.match(up.stdout, new RegExp(`127\\.0\\.0\\.1:${port} -> default/web:80`));
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    assert.ok(prefix);

    const res = await fetch(`http://127.0.0.1:${port}/through-expose`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { path: string }).path, '/through-expose');

    const pods = await cli(['get', 'pods'], { cwd: dir });
    assert.match(pods.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.match(pods.stdout, /web-\w+-\w+\s+1\/1\s+Running\s+0/);
    const svc = await cli(['get', 'svc', '-o', 'json'], { cwd: dir });
    const list = JSON.parse(svc.stdout) as { kind: string; apiVersion: string; items: { metadata: { name: string }; spec: { clusterIP: string } }[] };
    assert.equal(list.kind, 'List');
    assert.equal(list.apiVersion, 'v1');
    assert.match(list.items[0].spec.clusterIP, /^10\.96\./);

    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: "eighty"}]}\n');
    const bad = await cli(['apply', '-f', 'bad.yaml'], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad\.yaml:4: Service default\/bad: spec\.ports\[0\]\.port: must be a port number/);

    const exec = await cli(['exec', 'deploy/web', '--', 'curl', '-s', 'http://web/from-exec'], { cwd: dir });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal((JSON.parse(exec.stdout) as { path: string }).path, '/from-exec');
    // Istio's sleep sample, unchanged, into a namespace of its own (kubectl apply -n).
    const sleepYaml = join(REPO, '../shared/istio/istio/samples/sleep/sleep.yaml');
    if (existsSync(sleepYaml)) {
      const applied = await cli(['apply', '-n', 'legacy', '-f', sleepYaml], { cwd: dir });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /deployment\.apps\/sleep created/);
      await waitFor('sleep ready', async () => /sleep-\w+-\w+\s+1\/1\s+Running/.test((await cli(['get', 'pods', '-n', 'legacy'], { cwd: dir })).stdout));
      const fromSleep = await cli(['exec', '-n', 'legacy', 'deploy/sleep', '--', 'curl', '-s', 'http://web.default/from-sleep'], { cwd: dir });
      assert.equal((JSON.parse(fromSleep.stdout) as { path: string }).path, '/from-sleep');
    } else {
      process.stderr.write(`skipping the sleep sample: ${sleepYaml} is missing\n`);
    }

    const logs = await cli(['logs', 'deploy/web'], { cwd: dir });
    assert.match(logs.stdout, /echo listening on 8080/);
    const tail = await cli(['logs', 'deploy/web', '--tail', '1'], { cwd: dir });
    assert.equal(tail.stdout, 'echo listening on 8080\n');

    const down = await cli(['down'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!existsSync(join(dir, '.mizzen')), 'state directory removed');
    assert.deepEqual(await leftovers(prefix, []), []);
    await waitFor('port closed', async () => !(await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)));
  });

  it('tears down on Ctrl-C in the foreground', async () => {
    const fg = tempDir('cli-fg');
    writeFileSync(join(fg, 'app.yaml'), readFileSync(join(dir, 'app.yaml'), 'utf8'));
    const child = spawn(process.execPath, [CLI_ENTRY, 'up', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], { cwd: fg, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    try {
      await waitFor('mesh started', () => /mesh (mz\w+) started/.test(out));
      const fgPrefix = /mesh (mz\w+) started/.exec(out)?.[1] ?? '';
      await waitFor('pod running', async () => /1\/1\s+Running/.test((await cli(['get', 'pods'], { cwd: fg })).stdout));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.match(out, /mesh stopped and removed/);
      assert.deepEqual(await leftovers(fgPrefix, []), []);
      assert.ok(!existsSync(join(fg, '.mizzen', 'state.json')));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(fg, { recursive: true, force: true });
    }
  });

  it('cleans up after a mesh process that was killed', async () => {
    const up = await cli(['up', '-d', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    const state = readMeshState(join(dir, '.mizzen'));
    assert.ok(state);
    process.kill(state.pid, 'SIGKILL');
    await waitFor('mesh process gone', () => {
      try {
        process.kill(state.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const down = await cli(['down'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(state.prefix, []), []);
    assert.ok(!existsSync(join(dir, '.mizzen')));
  });

  it('refuses a second up on a running state directory and leaves the first mesh untouched', async () => {
    const up = await cli(['up', '-d', 'app.yaml', '--expose', `default/web:80=${port}`, '--no-control-plane', '--sidecars', 'off'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    const stateFile = join(dir, '.mizzen', 'state.json');
    const state = readMeshState(join(dir, '.mizzen'));
    assert.ok(state);
    // up -d returns once the mesh answers; the mesh still writes 'all pods are ready' after that.
    const upLog = join(dir, '.mizzen', 'up.log');
    await waitFor('first mesh ready in up.log', () => readFileSync(upLog, 'utf8').includes('all pods are ready'), 60_000);
    const before = { state: readFileSync(stateFile, 'utf8'), log: readFileSync(upLog, 'utf8') };
    try {
      for (const args of [['up', '-d', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], ['up', 'app.yaml', '--no-control-plane', '--sidecars', 'off']]) {
        const again = await cli(args, { cwd: dir });
        assert.equal(again.code, 1, `${args.join(' ')}: ${again.stdout}`);
        assert.match(again.stderr, new RegExp(`^error: a mesh is already running from .*\\.mizzen \\(mesh ${state.prefix}, pid ${state.pid}, `));
        assert.doesNotMatch(again.stdout, /mesh is ready|started/);
        assert.equal(readFileSync(stateFile, 'utf8'), before.state);
        assert.equal(readFileSync(join(dir, '.mizzen', 'up.log'), 'utf8'), before.log);
        assert.ok(existsSync(join(dir, '.mizzen', 'control.sock')));
      }
      // The first mesh still answers, through its forward and its control API.
      assert.equal((await fetch(`http://127.0.0.1:${port}/still-there`)).status, 200);
      assert.match((await cli(['get', 'pods'], { cwd: dir })).stdout, /web-\w+-\w+\s+1\/1\s+Running/);
    } catch (err) {
      await cli(['down'], { cwd: dir }); // the next tests start from an empty state directory
      throw err;
    }
    const down = await cli(['down'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`mesh ${state.prefix} removed`));
    assert.deepEqual(await leftovers(state.prefix, [state.pid]), []);
  });

  it('starts over a crashed mesh after removing what it left, and says so', async () => {
    const up = await cli(['up', '-d', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], { cwd: dir });
    assert.equal(up.code, 0, up.stderr);
    const crashed = readMeshState(join(dir, '.mizzen'));
    assert.ok(crashed);
    process.kill(crashed.pid, 'SIGKILL');
    await waitFor('mesh process gone', () => !existsSync(`/proc/${crashed.pid}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${crashed.pid}/stat`, 'utf8')));
    const again = await cli(['up', '-d', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`mesh ${crashed.prefix} \\(pid ${crashed.pid}\\) is no longer running; removed what it left: .*netns ${crashed.prefix}-`));
    assert.deepEqual(await leftovers(crashed.prefix, []), []);
    const now = readMeshState(join(dir, '.mizzen'));
    assert.ok(now && now.prefix !== crashed.prefix);
    assert.equal((await cli(['down'], { cwd: dir })).code, 0);
    assert.deepEqual(await leftovers(now.prefix, [now.pid]), []);
  });

  it('removes a mesh killed half-way through its start', async () => {
    const child = spawn(process.execPath, [CLI_ENTRY, 'up', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], { cwd: dir, stdio: 'ignore' });
    const state = await waitFor('state written', () => readMeshState(join(dir, '.mizzen')), 30_000);
    await waitFor('node namespace made', async () => (await runHostCommand('ip', ['netns', 'list'])).stdout.includes(`${state.prefix}-node`), 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const down = await cli(['down'], { cwd: dir });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`mesh ${state.prefix} was not running; removed what it left: .*netns ${state.prefix}-node`));
    assert.deepEqual(await leftovers(state.prefix, []), []);
    assert.ok(!existsSync(join(dir, '.mizzen')));
  });

  it('down never empties a directory that holds no mesh state', async () => {
    const other = tempDir('not-a-state-dir');
    writeFileSync(join(other, 'precious.txt'), 'keep me\n');
    try {
      const down = await cli(['down', '--state-dir', other], { cwd: dir });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /no mesh to remove/);
      assert.equal(readFileSync(join(other, 'precious.txt'), 'utf8'), 'keep me\n');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
