import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor } from './netns-test-support.ts';

/**
 * kubectl habits on the local mesh through the real CLI (no control plane, no sidecars: these
 * verbs are about the objects and pods): apply/delete from standard input, get with kubectl's
 * formats, label, rollout restart with requests flowing, port-forward, create namespace.
 */
const skip = await rootSkipReason();
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');

function cli(args: string[], cwd: string, stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (stdin !== undefined) child.stdin!.end(stdin);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** GET through a fresh connection each time (no keep-alive), so a dead pod shows as an error. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

const APP = `apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: echo, command: ["node", "${ECHO}"], ports: [{name: http, containerPort: 8080}], readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
      - {name: client, command: ["sleep", "infinity"]}
`;

describe('kubectl verbs on the local mesh (CLI)', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let prefix = '';

  before(async () => {
    dir = tempDir('verbs');
    writeFileSync(join(dir, 'app.yaml'), APP);
    const up = await cli(['up', '-d', 'app.yaml', '--no-control-plane', '--sidecars', 'off'], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies from standard input, gets in every format, and deletes by name', async () => {
    const heredoc = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web}
`;
    const applied = await cli(['apply', '-f', '-'], dir, heredoc);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'virtualservice.networking.istio.io/web created\n');
    assert.equal((await cli(['apply', '-f', '-'], dir, heredoc)).stdout, 'virtualservice.networking.istio.io/web unchanged\n');
    const bad = await cli(['apply', '-f', '-'], dir, 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: "eighty"}]}\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /STDIN.*Service default\/bad: spec\.ports\[0\]\.port/);

    const vs = await cli(['get', 'vs'], dir);
    assert.match(vs.stdout, /^NAME\s+GATEWAYS\s+HOSTS\s+AGE\nweb\s+\["web"\]\s+\d+s\n$/);
    const yaml = await cli(['get', 'virtualservice', 'web', '-o', 'yaml'], dir);
    assert.match(yaml.stdout, /^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\nmetadata:\n {2}creationTimestamp: /);
    const pods = JSON.parse((await cli(['get', 'pods', '-o', 'json'], dir)).stdout) as { kind: string; items: { metadata: { name: string } }[] };
    assert.equal(pods.kind, 'List');
    assert.equal(pods.items.length, 3);
    const names = (await cli(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items..metadata.name}'], dir)).stdout.split(' ');
    assert.deepEqual(names.sort(), pods.items.map((p) => p.metadata.name).filter((n) => n.startsWith('web-')).sort());
    const wide = await cli(['get', 'pods', '-o', 'wide'], dir);
    assert.match(wide.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\s+PID\n/);
    assert.match(wide.stdout, /\nweb-\w+-\w+\s+1\/1\s+Running\s+0\s+\d+s\s+10\.244\.\d+\.\d+\s+mizzen-node\s+<none>\s+<none>\s+\d+\n/);
    const missing = await cli(['get', 'vs', 'nope'], dir);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error from server (NotFound): virtualservices.networking.istio.io "nope" not found\n');
    const none = await cli(['get', 'dr'], dir);
    assert.equal(none.code, 0);
    assert.equal(none.stderr, 'No resources found in default namespace.\n');
    const global = await cli(['-n', 'default', 'get', 'svc', 'web', '-o', 'jsonpath={.spec.ports[?(@.name=="http")].port}'], dir);
    assert.equal(global.stdout, '80');

    const del = await cli(['delete', 'virtualservice.networking.istio.io/web'], dir);
    assert.equal(del.stdout, 'virtualservice.networking.istio.io "web" deleted from default namespace\n');
    const again = await cli(['delete', 'vs', 'web'], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Error from server \(NotFound\): virtualservices\.networking\.istio\.io "web" not found/);
    assert.equal((await cli(['delete', 'vs', 'web', '--ignore-not-found'], dir)).code, 0);
    // a boolean flag to kubectl: what follows it is the resource, `=true`/`=false` its value
    assert.equal((await cli(['delete', '--ignore-not-found', 'vs', 'web'], dir)).code, 0);
    assert.equal((await cli(['delete', '--ignore-not-found=true', 'vs', 'web'], dir)).code, 0);
    assert.equal((await cli(['delete', '--ignore-not-found=false', 'vs', 'web'], dir)).code, 1);
  });

  it('creates and labels namespaces; labels need --overwrite to change', async () => {
    assert.equal((await cli(['create', 'namespace', 'foo'], dir)).stdout, 'namespace/foo created\n');
    assert.match((await cli(['create', 'ns', 'foo'], dir)).stderr, /AlreadyExists/);
    assert.equal((await cli(['label', 'namespace', 'foo', 'istio-injection=enabled'], dir)).stdout, 'namespace/foo labeled\n');
    const conflict = await cli(['label', 'namespace', 'foo', 'istio-injection=disabled'], dir);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /'istio-injection' already has a value \(enabled\), and --overwrite is false/);
    assert.equal((await cli(['label', 'ns', 'foo', 'istio-injection=disabled', '--overwrite'], dir)).code, 0);
    assert.equal((await cli(['get', 'ns', 'foo', '-o', 'jsonpath={.metadata.labels.istio-injection}'], dir)).stdout, 'disabled');
    assert.match((await cli(['get', 'ns'], dir)).stdout, /^NAME\s+STATUS\s+AGE\ndefault\s+Active/);
    assert.equal((await cli(['delete', 'ns', 'foo'], dir)).stdout, 'namespace "foo" deleted\n');
    assert.match((await cli(['delete', 'ns', 'default'], dir)).stderr, /may not be deleted/);
  });

  it('port-forwards to a Service and keeps every request answered through a rollout restart', async () => {
    const pf = spawn(process.execPath, [CLI_ENTRY, 'port-forward', 'svc/web', ':80'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    pf.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const port = Number((await waitFor('forwarding', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out)))[1]);
      assert.equal((await get(port, '/pf')).status, 200);
    } finally {
      pf.kill('SIGINT');
    }
    // Requests through a Service VIP from inside the mesh, while the pods are replaced.
    const webPods = async (): Promise<string[]> => (await cli(['get', 'pods', '-l', 'app=web', '-o', 'name'], dir)).stdout.trim().split('\n');
    const before = new Set(await webPods());
    const exec = spawn(process.execPath, [CLI_ENTRY, 'exec', 'deploy/client', '--', 'sh', '-c', 'while true; do curl -s -o /dev/null -w "%{http_code}\\n" --max-time 2 http://web/; sleep 0.05; done'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    let codes = '';
    exec.stdout.on('data', (d: Buffer) => (codes += d.toString()));
    try {
      await waitFor('requests flowing', () => codes.split('\n').length > 5);
      const restarted = await cli(['rollout', 'restart', 'deployment/web'], dir);
      assert.equal(restarted.stdout, 'deployment.apps/web restarted\n');
      const status = await cli(['rollout', 'status', 'deployment/web', '--timeout', '120s'], dir);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /deployment "web" successfully rolled out\n$/);
      await waitFor('old pods gone', async () => {
        const now = await webPods();
        return now.length === 2 && now.every((p) => !before.has(p));
      }, 60_000);
    } finally {
      exec.kill('SIGTERM');
    }
    const answered = codes.trim().split('\n');
    assert.ok(answered.length > 20, `requests were made during the rollout (${answered.length})`);
    assert.deepEqual([...new Set(answered)], ['200'], 'no request failed during the rollout');
  });
});
