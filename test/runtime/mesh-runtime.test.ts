import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDocuments } from '../../src/control/config/parse-documents.ts';
import type { LocalMesh } from '../../src/runtime/local-mesh.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { asUserArgv, listNetns, runInNetns } from '../../src/runtime/netns.ts';
import { leftovers, REPO, rootSkipReason, tempDir, testMesh, waitFor } from './netns-test-support.ts';

const skip = await rootSkipReason();
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');

const manifests = `apiVersion: v1
kind: Namespace
metadata:
  name: apps
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: apps
spec:
  selector: {app: echo}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: apps
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        command: ["node", "${ECHO}"]
        ports:
        - name: http
          containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
  namespace: apps
spec:
  selector:
    matchLabels: {app: client}
  template:
    metadata:
      labels: {app: client}
    spec:
      containers:
      - name: client
        command: ["sleep", "3650d"]
`;

describe('MeshRuntime', { skip }, () => {
  let dir: string;
  let mesh: LocalMesh;
  const seenPids = new Set<number>();
  const notePids = (): void => {
    for (const p of mesh.runtime.views.podViews()) for (const c of p.containers) if (c.status.pid) seenPids.add(c.status.pid);
  };

  const curlFrom = async (podRef: string, url: string): Promise<{ code: number; body: string }> => {
    const pod = mesh.runtime.views.findPod('apps', podRef);
    assert.ok(pod, `pod ${podRef}`);
    const r = await runInNetns(pod.status().netns, 'curl', ['-s', '-m', '5', '-w', '\n%{http_code}', url], { allowFailure: true });
    const lines = r.stdout.split('\n');
    return { code: Number(lines.pop()), body: lines.join('\n') };
  };

  before(async () => {
    dir = tempDir('runtime');
    writeFileSync(join(dir, 'apps.yaml'), manifests);
    mesh = testMesh(dir, join(dir, 'apps.yaml'));
    await mesh.start();
    await waitFor('all pods ready', () => mesh.runtime.readiness().ready);
    notePids();
  });

  after(async () => {
    if (!mesh) return;
    notePids();
    await mesh.close();
    const left = await leftovers(mesh.prefix, [...seenPids]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'teardown leaves nothing behind');
  });

  it('gives each pod an address from the pod CIDR and each Service a VIP from the service CIDR', () => {
    const pods = mesh.runtime.views.podViews('apps');
    assert.equal(pods.length, 3);
    for (const p of pods) assert.match(p.ip, /^10\.244\.\d+\.\d+$/);
    assert.equal(new Set(pods.map((p) => p.ip)).size, 3);
    const [svc] = mesh.runtime.views.serviceStatusViews('apps');
    assert.match(svc.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.equal(svc.endpoints, 2);
    const written = readFileSync(join(dir, 'state', 'config', 'core.Service.apps.echo.yaml'), 'utf8');
    assert.match(written, new RegExp(`clusterIP: ${svc.clusterIP.replace(/\./g, '\\.')}`));
  });

  it('keeps mesh addresses on the machine: guard routes in the root namespace, no way out of the node namespace', async () => {
    for (const addr of ['10.244.0.2', '10.96.0.10']) {
      const r = await runHostCommand('ip', ['route', 'get', addr], { allowFailure: true });
      assert.notEqual(r.code, 0, `root namespace has no usable route to ${addr}`);
      assert.match(r.stderr, /No route to host|unreachable/i);
    }
    const node = mesh.runtime.node.netns;
    assert.equal((await runInNetns(node, 'ip', ['route', 'show', 'default'])).stdout.trim(), '');
    assert.equal((await runInNetns(node, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '0');
  });

  it('lets pods reach each other by service name (svc, svc.ns, svc.ns.svc.cluster.local)', async () => {
    const echoPods = new Set(mesh.runtime.views.podViews('apps').filter((p) => p.name.startsWith('echo-')).map((p) => p.name));
    for (const host of ['echo', 'echo.apps', 'echo.apps.svc', 'echo.apps.svc.cluster.local']) {
      const r = await curlFrom('deploy/client', `http://${host}/hello`);
      assert.equal(r.code, 200, host);
      const body = JSON.parse(r.body) as { pod: string; path: string };
      assert.ok(echoPods.has(body.pod), `${host} answered by an echo pod (${body.pod})`);
      assert.equal(body.path, '/hello');
    }
  });

  it('refuses a connection to a Service port that does not exist at once', async () => {
    const r = await curlFrom('deploy/client', 'http://echo.apps:81/');
    assert.equal(r.code, 0);
  });

  it('starts pods for an applied Deployment and stops them when it is deleted', async () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: extra, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: extra}}
  template:
    metadata: {labels: {app: extra}}
    spec:
      containers:
      - {name: extra, command: ["node", "${ECHO}"], env: [{name: PORT, value: "9000"}], ports: [{containerPort: 9000}]}
`;
    const parsed = parseDocuments(text, join(dir, 'extra.yaml'));
    const applied = await mesh.runtime.apply(parsed.resources);
    assert.deepEqual(applied.changes, ['deployment.apps/extra created']);
    const pod = await waitFor('extra pod ready', () => mesh.runtime.views.podViews('apps').find((p) => p.name.startsWith('extra-') && p.ready));
    notePids();
    const r = await curlFrom('deploy/client', `http://${pod.ip}:9000/`);
    assert.equal(r.code, 200);
    const deleted = await mesh.runtime.delete(parsed.resources);
    assert.deepEqual(deleted.changes, ['deployment.apps "extra" deleted from apps namespace']);
    assert.equal(mesh.runtime.views.podViews('apps').filter((p) => p.name.startsWith('extra-')).length, 0);
    assert.ok(!(await listNetns()).includes(pod.netns), 'its namespace is gone');
  });

  it('scales a Deployment, and a Service applied later resolves in running pods', async () => {
    const file = join(dir, 'scaled.yaml');
    const doc = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled, namespace: apps}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec:
      containers:
      - {name: scaled, command: ["node", "${ECHO}"], ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: scaled, namespace: apps}
spec:
  selector: {app: scaled}
  ports: [{port: 8080}]
`;
    const scaledPods = (): string[] => mesh.runtime.views.podViews('apps').filter((p) => p.name.startsWith('scaled-') && p.ready).map((p) => p.name);
    await mesh.runtime.apply(parseDocuments(doc(3), file).resources);
    await waitFor('3 replicas', () => scaledPods().length === 3);
    notePids();
    const seen = new Set<string>();
    await waitFor('every replica answers through the new Service name', async () => {
      const r = await curlFrom('deploy/client', 'http://scaled:8080/');
      if (r.code === 200) seen.add((JSON.parse(r.body) as { pod: string }).pod);
      return seen.size === 3;
    });
    const r = await mesh.runtime.apply(parseDocuments(doc(1), file).resources);
    assert.deepEqual(r.changes, ['deployment.apps/scaled configured', 'service/scaled unchanged']);
    assert.equal(mesh.runtime.views.podViews('apps').filter((p) => p.name.startsWith('scaled-')).length, 1);
    await mesh.runtime.delete(parseDocuments(doc(1), file).resources);
    assert.equal(mesh.runtime.views.podViews('apps').filter((p) => p.name.startsWith('scaled-')).length, 0);
  });

  it('restarts a crashing container with growing backoff and shows CrashLoopBackOff', async () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: crasher, namespace: apps}
spec:
  selector: {matchLabels: {app: crasher}}
  template:
    metadata: {labels: {app: crasher}}
    spec:
      containers:
      - {name: crasher, command: ["sh", "-c", "echo crashing; exit 3"]}
`;
    const parsed = parseDocuments(text, join(dir, 'crasher.yaml'));
    await mesh.runtime.apply(parsed.resources);
    const gaps: number[] = [];
    let last = 0;
    await waitFor('three restarts', () => {
      const c = mesh.runtime.views.podViews('apps').find((p) => p.name.startsWith('crasher-'))?.containers[0];
      if (!c) return false;
      if (c.status.phase === 'CrashLoopBackOff' && c.status.nextRestartAt && c.status.nextRestartAt !== last) {
        if (c.status.startedAt) gaps.push(c.status.nextRestartAt - c.status.startedAt);
        last = c.status.nextRestartAt;
      }
      return c.status.restarts >= 3 && gaps.length >= 3;
    });
    assert.ok(gaps[2] > gaps[0], `backoff grows: ${gaps.join(', ')} ms`);
    const pod = mesh.runtime.views.findPod('apps', 'deploy/crasher');
    assert.ok(pod);
    assert.equal(pod.status().ready, false);
    assert.match(readFileSync(pod.logFile('crasher'), 'utf8'), /crashing\ncrashing\n/);
    await mesh.runtime.delete(parsed.resources);
  });

  it('rejects invalid input without changing anything, naming file, resource and field', async () => {
    const file = join(dir, 'bad.yaml');
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: apps}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
      - {name: bad, command: ["sleep", "1000"], ports: [{containerPort: 70000}]}
---
apiVersion: v1
kind: Service
metadata: {name: fine, namespace: apps}
spec: {ports: [{port: 80}]}
`;
    const before = mesh.runtime.views.podViews().length;
    const r = await mesh.runtime.apply(parseDocuments(text, file, { fieldLines: true }).resources);
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors, [`${file}:10: Deployment apps/bad: spec.template.spec.containers[0].ports[0].containerPort: must be a port number 1-65535`]);
    assert.equal(mesh.runtime.views.podViews().length, before);
    assert.equal(mesh.runtime.views.serviceStatusViews('apps').find((s) => s.name === 'fine'), undefined);
  });

  it('runs exec-style commands as the app user inside the pod namespace', async () => {
    const pod = mesh.runtime.views.findPod('apps', 'deploy/client');
    assert.ok(pod);
    const argv = asUserArgv(65534, 65534, ['id', '-u']);
    const r = await runInNetns(pod.status().netns, argv[0], argv.slice(1));
    assert.equal(r.stdout.trim(), '65534');
  });
});
