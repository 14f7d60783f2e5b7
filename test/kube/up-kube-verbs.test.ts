import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_ENTRY, cli, REPO, rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { kubeSkipReason, TEST_CLUSTER_CIDRS } from './support/kube-cluster.ts';

/**
 * `mizzen get/logs/exec/apply/delete/label/rollout/port-forward` on an `up --kube` mesh: the same verbs as in
 * file mode, through the API server (pod logs and exec through its `log` and `exec`
 * subresources). One mesh (a small app: an injected Deployment `hello`, a one-container
 * Deployment `solo`) serves every case. About 2 minutes on a quiet machine, 3-5 loaded.
 */
const skip = kubeSkipReason() ?? (await rootSkipReason()) ?? undefined;

const HELLO = "console.log('hello started'); require('node:http').createServer((q, s) => { console.log('GET ' + q.url); s.end('hello from ' + process.env.HOSTNAME + '\\n'); }).listen(8080)";
const SOLO = "console.log('solo started'); setInterval(() => {}, 1e9)";
const APP = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  ports:
  - port: 8080
    name: http
  selector:
    app: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
      - name: hello
        image: local/hello
        command: ["node", "-e", ${JSON.stringify(HELLO)}]
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: solo
spec:
  selector:
    matchLabels:
      app: solo
  template:
    metadata:
      labels:
        app: solo
      annotations:
        sidecar.istio.io/inject: "false"
    spec:
      containers:
      - name: solo
        image: local/solo
        command: ["node", "-e", ${JSON.stringify(SOLO)}]
`;

const VS = (prefix: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: hello
spec:
  hosts:
  - hello
  http:
  - match:
    - uri:
        prefix: ${prefix}
    route:
    - destination:
        host: hello
`;

type Run = { code: number; stdout: string; stderr: string };

describe('mizzen verbs on an up --kube mesh', { skip, timeout: 900_000 }, () => {
  const state = mkdtempSync(join(tmpdir(), 'mizzen-upkube-verbs-'));
  const app = mkdtempSync(join(tmpdir(), 'mizzen-upkube-app-'));
  const cidr = TEST_CLUSTER_CIDRS.upKubeVerbs;
  let up: Run;
  /** `mizzen --state-dir STATE ARGS` (kubectl's global flag before the verb), with `input` on stdin when given. */
  const mizzen = (args: string[], input?: string): Promise<Run> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI_ENTRY, '--state-dir', state, ...args], { cwd: REPO, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin?.end(input);
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const podsOf = async (app: string): Promise<string[]> => {
    const r = await mizzen(['get', 'pods', '-l', `app=${app}`, '-o', 'name']);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.replace(/^pod\//, ''));
  };

  before(async () => {
    writeFileSync(join(app, 'app.yaml'), APP);
    up = await cli(['up', '--kube', app, '-d', '--state-dir', state, '--pod-cidr', cidr, '--timeout', '600s'], REPO);
  });

  after(async () => {
    try {
      await cli(['down', '--state-dir', state], REPO);
    } finally {
      rmSync(state, { recursive: true, force: true });
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('up --kube is running', () => {
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}\n${existsSync(join(state, 'node.log')) ? readFileSync(join(state, 'node.log'), 'utf8').slice(-3000) : ''}`);
  });

  it('get pods: READY 2/2 and 1/1 Running, -o wide with IP and node, -o json, get svc/deploy', async () => {
    const table = await mizzen(['get', 'pods']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.match(table.stdout, /\nhello-[a-z0-9]+-[a-z0-9]+\s+2\/2\s+Running\s+0\s+\d+[smh]/);
    assert.match(table.stdout, /\nsolo-[a-z0-9]+-[a-z0-9]+\s+1\/1\s+Running\s+0\s+\d+[smh]/);
    const wide = await mizzen(['get', 'pods', '-o', 'wide', '-l', 'app=hello']);
    assert.match(wide.stdout, /\s2\/2\s+Running\s+0\s+\S+\s+10\.244\.\d+\.\d+\s+mizzen-node\s/);
    const json = JSON.parse((await mizzen(['get', 'pods', '-n', 'istio-system', '-o', 'json'])).stdout) as { kind: string; items: { kind: string; metadata: { labels?: Record<string, string> }; status: { phase: string } }[] };
    assert.equal(json.kind, 'List');
    assert.ok(json.items.some((p) => p.kind === 'Pod' && p.metadata.labels?.app === 'istiod' && p.status.phase === 'Running'), 'discovery runs as a pod');
    const svc = await mizzen(['get', 'svc', 'hello', '--no-headers']);
    assert.match(svc.stdout, /^hello\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+8080\/TCP\s/);
    const deploy = await mizzen(['-n', 'default', 'get', 'deploy']);
    assert.match(deploy.stdout, /\nhello\s+1\/1\s+1\s+1\s/);
    const missing = await mizzen(['get', 'pod', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pods "nope" not found/);
  });

  it('logs without -c: the app (injector annotation) or the only container, no note; -c istio-proxy, --tail', async () => {
    const hello = await mizzen(['logs', 'deploy/hello']);
    assert.equal(hello.code, 0, hello.stderr);
    assert.match(hello.stdout, /hello started/);
    assert.doesNotMatch(hello.stderr, /Defaulted/);
    const solo = await mizzen(['logs', 'deploy/solo']);
    assert.equal(solo.code, 0, solo.stderr);
    assert.match(solo.stdout, /^solo started\n/);
    const [pod] = await podsOf('hello');
    const proxy = await mizzen(['logs', pod!, '-c', 'istio-proxy', '--tail', '2']);
    assert.equal(proxy.code, 0, proxy.stderr);
    assert.equal(proxy.stdout.trim().split('\n').length, 2, proxy.stdout);
    const wrong = await mizzen(['logs', pod!, '-c', 'nope']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /container nope not found in pod hello-.*hello, istio-proxy, istio-init \(init\)/s);
  });

  it('exec: the command in the app container through the mesh, its exit code, stdin with -i, -c istio-proxy', async () => {
    const call = await mizzen(['exec', 'deploy/hello', '--', 'node', '-e', "fetch('http://hello:8080/from-exec').then(async (r) => console.log(r.status, r.headers.get('server'), await r.text()))"]);
    assert.equal(call.code, 0, call.stderr);
    assert.match(call.stdout, /^200 envoy hello from /);
    const code = await mizzen(['exec', 'deploy/solo', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(code.code, 7);
    assert.equal(code.stdout, 'out\n');
    assert.equal(code.stderr, 'err\n');
    const stdin = await mizzen(['exec', '-i', 'deploy/solo', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], 'from stdin\n');
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout, 'FROM STDIN\ndone\n');
    const user = await mizzen(['exec', 'deploy/hello', '-c', 'istio-proxy', '--', 'id', '-u']);
    assert.equal(user.stdout.trim(), '1337', 'the sidecar container runs as istio-proxy');
    const logs = await mizzen(['logs', 'deploy/hello', '--tail', '5']);
    assert.match(logs.stdout, /GET \/from-exec/);
  });

  it('logs -f follows until interrupted', async () => {
    const child = spawn(process.execPath, [CLI_ENTRY, '--state-dir', state, 'logs', '-f', 'deploy/hello'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      await waitFor('the log so far', () => out.includes('hello started'), 60_000);
      const mark = `/followed-${Date.now()}`;
      await mizzen(['exec', 'deploy/solo', '--', 'node', '-e', `fetch('http://hello:8080${mark}').then((r) => r.text())`]);
      await waitFor('the new line while following', () => out.includes(`GET ${mark}`), 60_000);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await closed, 0);
  });

  it('port-forward svc/NAME :PORT: a local port to a pod of the Service (through kubectl port-forward), until interrupted', async () => {
    const child = spawn(process.execPath, [CLI_ENTRY, '--state-dir', state, 'port-forward', 'svc/hello', ':8080'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      const port = await waitFor('Forwarding from', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out)?.[1], 60_000);
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/forwarded`);
        assert.equal(r.status, 200);
        assert.match(await r.text(), /^hello from /);
      }
      assert.match(out, /Handling connection for \d+/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await closed, 0, err);
  });

  it("proxy-status and proxy-config: discovery's pods through the API server, the proxy's own admin through exec", async () => {
    const status = await mizzen(['proxy-status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\nhello-[a-z0-9]+-[a-z0-9]+\.default\s.*SYNCED/);
    const clusters = await mizzen(['proxy-config', 'clusters', 'deploy/hello', '--fqdn', 'hello.default.svc.cluster.local']);
    assert.equal(clusters.code, 0, clusters.stderr);
    assert.match(clusters.stdout, /hello\.default\.svc\.cluster\.local\s+8080\s+-\s+outbound\s+EDS/);
    const secret = await mizzen(['proxy-config', 'secret', 'deploy/hello']);
    assert.match(secret.stdout, /\ndefault\s+Cert Chain\s+ACTIVE\s/, 'the workload certificate lives in the proxy, not in discovery');
  });

  it('apply -f / delete -f: created, unchanged, configured, errors naming file and line; get vs', async () => {
    const file = join(app, 'vs.yaml');
    writeFileSync(file, VS('/'));
    const created = await mizzen(['apply', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'virtualservice.networking.istio.io/hello created\n');
    assert.equal((await mizzen(['apply', '-f', file])).stdout, 'virtualservice.networking.istio.io/hello unchanged\n');
    writeFileSync(file, VS('/v2'));
    assert.equal((await mizzen(['apply', '-f', file])).stdout, 'virtualservice.networking.istio.io/hello configured\n');
    const listed = await mizzen(['get', 'vs']);
    assert.match(listed.stdout, /\nhello\s+\["hello"\]\s+\d+s/);
    const bad = join(app, 'bad.yaml');
    writeFileSync(bad, VS('/').replace('host: hello\n', 'host: hello\n      weight: -5\n'));
    const refused = await mizzen(['apply', '-f', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: VirtualService default/hello: .*weight`));
    const yaml = await mizzen(['get', 'vs', 'hello', '-o', 'yaml']);
    assert.match(yaml.stdout, /prefix: \/v2/, 'the invalid change was not applied');
    const deleted = await mizzen(['delete', '-f', file]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, 'virtualservice.networking.istio.io "hello" deleted from default namespace\n');
    const again = await mizzen(['delete', '-f', file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Error from server \(NotFound\): virtualservices.networking.istio.io "hello" not found/);
  });

  it('label: labeled, --overwrite needed to change a value', async () => {
    const r = await mizzen(['label', 'ns', 'default', 'team=mesh']);
    assert.equal(r.stdout, 'namespace/default labeled\n', r.stderr);
    const refused = await mizzen(['label', 'ns', 'default', 'team=other']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /'team' already has a value \(mesh\), and --overwrite is false/);
    assert.equal((await mizzen(['label', 'ns', 'default', 'team=other', '--overwrite'])).stdout, 'namespace/default labeled\n');
    assert.match((await mizzen(['get', 'ns', 'default', '--show-labels'])).stdout, /team=other/);
  });

  it('rollout restart and status: a new pod replaces the old one', async () => {
    const [old] = await podsOf('hello');
    const r = await mizzen(['rollout', 'restart', 'deployment/hello']);
    assert.equal(r.stdout, 'deployment.apps/hello restarted\n', r.stderr);
    const status = await mizzen(['rollout', 'status', 'deployment/hello', '--timeout', '300s']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /deployment "hello" successfully rolled out\n$/);
    await waitFor('the old pod gone', async () => !(await podsOf('hello')).includes(old!), 120_000);
    const [fresh] = await podsOf('hello');
    assert.notEqual(fresh, old);
  });
});
