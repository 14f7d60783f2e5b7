import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSubmitted } from '../../src/runtime/control-server.ts';
import type { LocalMesh } from '../../src/runtime/local-mesh.ts';
import { listNetns, runInNetns } from '../../src/runtime/netns.ts';
import { validateWorkloadResource } from '../../src/runtime/workload-validation.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, testMesh, waitFor } from './netns-test-support.ts';

const skip = await rootSkipReason();
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');
const SIDECAR = join(REPO, 'test/runtime/fixtures/capture-test-sidecar.ts');

const manifests = `apiVersion: v1
kind: Namespace
metadata:
  name: mesh
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: mesh}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata:
  name: echo
  namespace: mesh
  labels: {app: echo}
spec:
  containers:
  - name: echo
    command: ["node", "${ECHO}"]
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: sleep
  namespace: plain
spec:
  containers:
  - {name: sleep, command: ["sleep", "3650d"]}
---
apiVersion: v1
kind: Pod
metadata: {name: once, namespace: plain}
spec:
  restartPolicy: Never
  containers:
  - {name: once, command: ["sh", "-c", "echo done"]}
`;

describe('bare Pod manifests', () => {
  it('are passed on by parseSubmitted (no longer ignored)', () => {
    const parsed = parseSubmitted([{ file: 'pods.yaml', text: manifests }]);
    assert.deepEqual(parsed.warnings, []);
    assert.deepEqual(parsed.resources.filter((r) => r.kind === 'Pod').map((r) => r.metadata.name), ['echo', 'sleep', 'once']);
  });

  it('are validated: containers with commands, a known restartPolicy', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - {name: x, image: busybox}\n';
    const [pod] = parseSubmitted([{ file: 'bad.yaml', text }]).resources;
    assert.deepEqual(validateWorkloadResource(pod).map((i) => i.path).sort(), ['spec.containers[0].command', 'spec.restartPolicy']);
  });
});

describe('bare Pods under mizzen up', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let mesh: LocalMesh;
  const pids = new Set<number>();
  const notePids = (): void => {
    for (const p of mesh.runtime.views.podViews()) for (const c of p.containers) if (c.status.pid) pids.add(c.status.pid);
  };
  const curlFrom = async (ns: string, pod: string, url: string): Promise<{ code: number; body: string }> => {
    const p = mesh.runtime.views.findPod(ns, pod);
    assert.ok(p, `pod ${ns}/${pod}`);
    const r = await runInNetns(p.status().netns, 'curl', ['-s', '-m', '5', '-w', '\n%{http_code}', url], { allowFailure: true });
    const lines = r.stdout.split('\n');
    return { code: Number(lines.pop()), body: lines.join('\n') };
  };

  before(async () => {
    dir = tempDir('barepods');
    writeFileSync(join(dir, 'pods.yaml'), manifests);
    mesh = testMesh(dir, join(dir, 'pods.yaml'), {
      // A stand-in for the proxy (injection and capture are what is tested here).
      sidecar: async (ctx) => ({ argv: [process.execPath, SIDECAR], env: {}, ready: { kind: 'http', host: ctx.ip, port: 15021, path: '/healthz/ready', scheme: 'http' } }),
    });
    await mesh.start();
    await waitFor('pods ready', () => mesh.runtime.readiness().ready);
    notePids();
  });

  after(async () => {
    if (!mesh) return;
    notePids();
    await mesh.close();
    const left = await leftovers(mesh.prefix, [...pids]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'teardown leaves nothing behind');
  });

  it('runs each Pod under its manifest name, injected by its namespace, with its restartPolicy', async () => {
    const pods = mesh.runtime.views.podViews().map((p) => [`${p.namespace}/${p.name}`, p.owner, p.sidecar, p.containerCount]);
    assert.deepEqual(pods, [
      ['mesh/echo', undefined, true, 2],
      ['plain/once', undefined, false, 1],
      ['plain/sleep', undefined, false, 1],
    ]);
    const once = await waitFor('once completed', () => mesh.runtime.views.podViews('plain').find((p) => p.name === 'once' && p.phase === 'Completed'));
    assert.equal(once.restarts, 0, 'restartPolicy Never: not restarted');
    const podFile = join(dir, 'state', 'config', 'core.Pod.plain.once.yaml');
    await waitFor('the control plane sees it Succeeded', () => existsSync(podFile) && readFileSync(podFile, 'utf8').includes('phase: Succeeded'));
  });

  it('is reachable through a Service selecting it', async () => {
    const r = await curlFrom('plain', 'sleep', 'http://echo.mesh/hello');
    assert.equal(r.code, 200);
    assert.equal((JSON.parse(r.body) as { pod: string }).pod, 'echo');
    assert.equal(mesh.runtime.views.serviceStatusViews('mesh')[0].endpoints, 1);
  });

  it('recreates a Pod whose spec changed, and removes it on delete', async () => {
    const before = mesh.runtime.views.findPod('mesh', 'echo');
    assert.ok(before);
    const changed = manifests.replace('ports: [{name: http, containerPort: 8080}]', 'ports: [{name: http, containerPort: 9000}]\n    env: [{name: PORT, value: "9000"}]');
    const parsed = parseSubmitted([{ file: join(dir, 'pods.yaml'), text: changed }]);
    const applied = await mesh.runtime.apply(parsed.resources);
    assert.ok(applied.ok, applied.errors.join('\n'));
    assert.ok(applied.changes.includes('pod/echo recreated (a Pod spec cannot be updated in place)'), applied.changes.join('\n'));
    assert.ok(applied.changes.includes('pod/sleep unchanged'));
    await waitFor('mesh ready again', () => mesh.runtime.readiness().ready);
    notePids();
    assert.notEqual(mesh.runtime.views.findPod('mesh', 'echo'), before, 'a new pod instance');
    const r = await curlFrom('plain', 'sleep', 'http://echo.mesh/again');
    assert.equal(r.code, 200, 'the Service follows the named port to 9000');

    // `mizzen delete -f` (the real CLI, through the mesh's control socket).
    const netns = mesh.runtime.views.findPod('mesh', 'echo')!.status().netns;
    const file = join(dir, 'echo-pod.yaml');
    writeFileSync(file, changed.split('\n---\n').find((d) => d.includes('kind: Pod') && d.includes('name: echo'))!);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI_ENTRY, 'delete', '-f', file, '--state-dir', join(dir, 'state')]);
    assert.equal(stdout, 'pod "echo" deleted from mesh namespace\n');
    assert.equal(mesh.runtime.views.findPod('mesh', 'echo'), undefined);
    assert.ok(!(await listNetns()).includes(netns), 'its namespace is gone');
    assert.equal(mesh.runtime.views.serviceStatusViews('mesh')[0].endpoints, 0);
  });
});
