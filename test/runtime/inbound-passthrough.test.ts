import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor, cli } from './netns-test-support.ts';

/**
 * Inbound passthrough as Istio does it, through `mizzen up` with the control plane and real
 * sidecars: a pod port no Service declares is reached from another injected pod through both
 * sidecars (client: PassthroughCluster; server: virtualInbound catch-all → InboundPassthroughCluster,
 * bound to 127.0.0.6 so istio-init's rules do not capture it again).
 */
const haveParts = existsSync(join(REPO, 'src/cli/discovery-command.ts')) && existsSync(join(REPO, 'src/cli/proxy-command.ts'));
const skip = (await rootSkipReason()) || (!haveParts ? 'needs mizzen discovery and mizzen proxy' : false);
const ECHO = join(REPO, 'test/runtime/fixtures/echo-server.ts');

const manifests = `apiVersion: v1
kind: Namespace
metadata:
  name: pt
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: pt}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: pt}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, command: ["node", "${ECHO}"], ports: [{containerPort: 8080}]}
      - {name: undeclared, command: ["node", "${ECHO}"], env: [{name: PORT, value: "7070"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: pt}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
      - {name: client, command: ["sleep", "3650d"]}
`;

describe('inbound passthrough through sidecars (mizzen up)', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let prefix = '';
  let webIp = '';

  const curl = async (url: string): Promise<{ code: number; body: string }> => {
    const r = await cli(['exec', '-n', 'pt', 'deploy/client', '--', 'curl', '-s', '-m', '5', '-w', '\n%{http_code}', url], dir);
    const lines = r.stdout.split('\n');
    return { code: Number(lines.pop()), body: lines.join('\n') };
  };
  const stat = async (deploy: string, name: string): Promise<number> => {
    const r = await cli(['exec', '-n', 'pt', deploy, '--', 'curl', '-s', '-m', '5', 'http://127.0.0.1:15000/stats'], dir);
    const m = new RegExp(`^${name.replace(/[.|]/g, '\\$&')}: (\\d+)$`, 'm').exec(r.stdout);
    return m ? Number(m[1]) : -1;
  };

  before(async () => {
    dir = tempDir('passthrough');
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(join(dir, 'mesh', 'mesh.yaml'), manifests);
    const up = await cli(['up', '-d', join(dir, 'mesh')], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    type Pod = { metadata: { name: string }; spec: { containers: { name: string }[] }; status: { podIP: string } };
    const pods = JSON.parse((await cli(['get', 'pods', '-n', 'pt', '-o', 'json'], dir)).stdout) as { items: Pod[] };
    const injected = (p: Pod): boolean => p.spec.containers.some((c) => c.name === 'istio-proxy');
    const web = pods.items.find((p) => p.metadata.name.startsWith('web-'));
    assert.ok(web && injected(web) && pods.items.every(injected), 'both pods are injected');
    webIp = web.status.podIP;
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches a declared port through the Service, on the pod address', async () => {
    const r = await waitFor('web through its Service', async () => {
      const x = await curl('http://web.pt/declared');
      return x.code === 200 ? x : undefined;
    });
    const body = JSON.parse(r.body) as { path: string; peer: string };
    assert.equal(body.path, '/declared');
    assert.equal(body.peer, '127.0.0.6', 'inbound|8080|| reaches the app on the pod address from 127.0.0.6, as Istio 1.10+');
  });

  it('reaches a pod port no Service declares through both sidecars, the app seeing 127.0.0.6, without looping', async () => {
    const before = await stat('deploy/web', 'cluster.InboundPassthroughCluster.upstream_cx_total');
    const r = await curl(`http://${webIp}:7070/undeclared`);
    assert.equal(r.code, 200, r.body);
    const body = JSON.parse(r.body) as { path: string; peer: string };
    assert.equal(body.path, '/undeclared');
    assert.equal(body.peer, '127.0.0.6', 'the server sidecar\'s InboundPassthroughCluster connected from 127.0.0.6');
    // Exactly one upstream connection per request on the server side: a loop back into 15006 would open more.
    assert.equal(await stat('deploy/web', 'cluster.InboundPassthroughCluster.upstream_cx_total'), before + 1);
    assert.ok((await stat('deploy/client', 'cluster.PassthroughCluster.upstream_cx_total')) >= 1, 'the client sidecar passed it through');
  });

  it('drops a connection to the pod\'s 15006 itself (virtualInbound-blackhole) instead of passing it through to itself', async () => {
    const before = await stat('deploy/web', 'cluster.InboundPassthroughCluster.upstream_cx_total');
    const r = await curl(`http://${webIp}:15006/loop`);
    assert.equal(r.code, 0, 'closed without a response');
    assert.equal(await stat('deploy/web', 'cluster.InboundPassthroughCluster.upstream_cx_total'), before);
    assert.equal((await curl(`http://${webIp}:7070/after`)).code, 200, 'the sidecar keeps serving');
  });
});
