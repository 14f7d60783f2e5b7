import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalMesh } from '../../src/runtime/local-mesh.ts';
import { runInNetns } from '../../src/runtime/netns.ts';
import { renderCaptureRules } from '../../src/runtime/capture-rules.ts';
import { leftovers, REPO, rootSkipReason, tempDir, testMesh, waitFor } from './netns-test-support.ts';

const skip = await rootSkipReason();
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');
const SIDECAR = join(REPO, 'test/runtime/fixtures/capture-test-sidecar.ts');

describe('renderCaptureRules', () => {
  it('writes istio-init rules: inbound to 15006, outbound to 15001, proxy uid/gid and loopback excluded', () => {
    const rules = renderCaptureRules({ excludeInboundPorts: [22] });
    assert.match(rules, /redirect to :15006/);
    assert.match(rules, /redirect to :15001/);
    assert.match(rules, /tcp dport \{ 15008, 15090, 15021, 15020, 22 \} return/);
    assert.match(rules, /meta skuid 1337 return/);
    assert.match(rules, /meta skgid 1337 return/);
    assert.match(rules, /oifname "lo" meta skuid != 1337 return/);
    assert.match(rules, /ip daddr 127\.0\.0\.1 return/);
  });
});

const manifests = `apiVersion: v1
kind: Namespace
metadata:
  name: mesh
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: mesh}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: mesh}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - {name: echo, command: ["node", "${ECHO}"], ports: [{containerPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: mesh}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
      - {name: client, command: ["sleep", "3650d"]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain, namespace: mesh}
spec:
  selector: {matchLabels: {app: plain}}
  template:
    metadata:
      labels: {app: plain, sidecar.istio.io/inject: "false"}
    spec:
      containers:
      - {name: plain, command: ["sleep", "3650d"]}
`;

interface Captured {
  direction: string;
  dst: { address: string; port: number } | null;
}

describe('traffic capture in injected pods', { skip }, () => {
  let dir: string;
  let mesh: LocalMesh;
  const pids: number[] = [];

  const sidecarLog = (ref: string): Captured[] => {
    const pod = mesh.runtime.views.findPod('mesh', ref);
    assert.ok(pod);
    return readFileSync(pod.logFile('istio-proxy'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Captured);
  };

  before(async () => {
    dir = tempDir('capture');
    writeFileSync(join(dir, 'mesh.yaml'), manifests);
    mesh = testMesh(dir, join(dir, 'mesh.yaml'), {
      // A stand-in for the proxy (the capture rules are what is tested here).
      sidecar: async (ctx) => ({ argv: [process.execPath, SIDECAR], env: {}, ready: { kind: 'http', host: ctx.ip, port: 15021, path: '/healthz/ready', scheme: 'http' } }),
    });
    await mesh.start();
    await waitFor('pods ready', () => mesh.runtime.readiness().ready);
    for (const p of mesh.runtime.views.podViews()) for (const c of p.containers) if (c.status.pid) pids.push(c.status.pid);
  });

  after(async () => {
    if (!mesh) return;
    await mesh.close();
    const left = await leftovers(mesh.prefix, pids);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, []);
  });

  it('injects by the namespace label and honours sidecar.istio.io/inject=false', () => {
    const pods = mesh.runtime.views.podViews('mesh');
    assert.deepEqual(pods.map((p) => [p.name.split('-')[0], p.sidecar, p.containerCount]).sort(), [
      ['client', true, 2],
      ['echo', true, 2],
      ['plain', false, 1],
    ]);
  });

  it('is transparent: the app connects to name:port, its sidecar gets the VIP as original destination, the server pod\'s sidecar the pod address', async () => {
    const client = mesh.runtime.views.findPod('mesh', 'deploy/client');
    const echo = mesh.runtime.views.findPod('mesh', 'deploy/echo');
    assert.ok(client && echo);
    const vip = mesh.runtime.views.serviceStatusViews('mesh').find((s) => s.name === 'echo')?.clusterIP;
    const r = await runInNetns(client.status().netns, 'curl', ['-s', '-m', '5', 'http://echo.mesh/captured']);
    const body = JSON.parse(r.stdout) as { path: string; peer: string };
    assert.equal(body.path, '/captured');
    assert.equal(body.peer, '127.0.0.6', 'the app saw the inbound sidecar (bound to 127.0.0.6), not the client');
    await waitFor('capture logs', () => sidecarLog('deploy/client').length > 0 && sidecarLog('deploy/echo').length > 0);
    assert.deepEqual(sidecarLog('deploy/client').at(-1), { direction: 'outbound', from: client.ip, dst: { address: vip, port: 80 } } as Captured);
    const inbound = sidecarLog('deploy/echo').at(-1);
    assert.equal(inbound?.direction, 'inbound');
    assert.deepEqual(inbound?.dst, { address: echo.ip, port: 8080 });
  });

  it('does not capture the proxy uid, loopback, or the proxy\'s own inbound ports', async () => {
    const client = mesh.runtime.views.findPod('mesh', 'deploy/client');
    const echo = mesh.runtime.views.findPod('mesh', 'deploy/echo');
    assert.ok(client && echo);
    const before = sidecarLog('deploy/client').length;
    // uid 1337 straight to the echo pod: not redirected (so no log line), still answered via inbound capture.
    const r = await runInNetns(client.status().netns, 'setpriv', ['--reuid=1337', '--regid=1337', '--clear-groups', 'curl', '-s', '-m', '5', `http://${echo.ip}:8080/direct`]);
    assert.equal((JSON.parse(r.stdout) as { path: string }).path, '/direct');
    // 15021 on the echo pod is not captured: the stand-in sidecar answers it itself.
    const health = await runInNetns(client.status().netns, 'setpriv', ['--reuid=1337', '--regid=1337', '--clear-groups', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${echo.ip}:15021/healthz/ready`]);
    assert.equal(health.stdout, '200');
    assert.equal(sidecarLog('deploy/client').length, before);
  });

  it('leaves connections from the node (port forwards) uncaptured, as kubectl port-forward bypasses the sidecar', async () => {
    const echo = mesh.runtime.views.findPod('mesh', 'deploy/echo');
    assert.ok(echo);
    const r = await runInNetns(mesh.runtime.node.netns, 'curl', ['-s', '-m', '5', `http://${echo.ip}:8080/forwarded`]);
    assert.equal((JSON.parse(r.stdout) as { peer: string }).peer, mesh.runtime.node.address);
  });

  it('lets a pod without a sidecar reach the service through the Service DNAT', async () => {
    const plain = mesh.runtime.views.findPod('mesh', 'deploy/plain');
    assert.ok(plain);
    const r = await runInNetns(plain.status().netns, 'curl', ['-s', '-m', '5', 'http://echo/plain']);
    assert.equal((JSON.parse(r.stdout) as { path: string }).path, '/plain');
    const list = await runInNetns(plain.status().netns, 'nft', ['list', 'tables']);
    assert.doesNotMatch(list.stdout, /mizzen_capture/);
  });
});
