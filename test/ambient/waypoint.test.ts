import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, rootSkipReason, tempDir, waitFor, cli } from '../runtime/netns-test-support.ts';

/**
 * Issue 17's first slice through the real CLI, in network namespaces: an ambient client calls a
 * service labelled `istio.io/use-waypoint`; its ztunnel sends the connection over HBONE to the
 * waypoint (a Gateway of class istio-waypoint that `mizzen up` deploys as `mizzen proxy
 * waypoint`), which applies L7 policy attached by targetRefs and re-originates HBONE to the
 * server's ztunnel. Removing the label falls back to the direct L4 path.
 */
const skip = await rootSkipReason();

const service = (useWaypoint: boolean): string => `apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: default
  labels: {app: httpbin${useWaypoint ? ', istio.io/use-waypoint: waypoint' : ''}}
spec:
  ports: [{name: http, port: 8000, targetPort: 8080}]
  selector: {app: httpbin}
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: default}
---
${service(true)}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin, version: v1}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: docker.io/mccutchen/go-httpbin:v2.15.0, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers: [{name: main, image: curl, command: [sleep, infinity]}]
`;

const DENY_HEADERS = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: default}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/headers"], ports: ["8000"]}}]}]
`;

describe('ambient waypoint (ztunnel → waypoint → ztunnel)', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let prefix = '';

  const apply = async (yaml: string): Promise<void> => {
    const f = join(dir, `apply-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, yaml);
    const r = await cli(['apply', '-f', f], dir);
    assert.equal(r.code, 0, r.stderr);
  };
  /** curl from the client pod (as its application would): status and body, status 000 when the connection failed. */
  const curl = async (path: string): Promise<{ status: string; body: string }> => {
    const r = await cli(['exec', 'client', '--', 'curl', '-s', '--max-time', '5', '-w', '\n%{http_code}', `http://httpbin:8000${path}`], dir);
    const i = r.stdout.lastIndexOf('\n');
    return { status: r.stdout.slice(i + 1).trim() || '000', body: r.stdout.slice(0, Math.max(i, 0)) };
  };
  const accessLog = (): string[] => {
    const f = join(dir, '.mizzen', 'logs', 'ztunnel-access.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n') : [];
  };

  before(() => {
    dir = tempDir('waypoint');
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(join(dir, 'mesh', 'mesh.yaml'), MESH);
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries the client\'s requests through the waypoint over HBONE, with the client\'s identity', async () => {
    const up = await cli(['up', '-d', join(dir, 'mesh'), '--timeout', '240s'], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    // The waypoint adds what an L7 proxy adds: a request id, and the client certificate details of the tunnel it terminated.
    const res = await waitFor('httpbin through the waypoint', async () => {
      const r = await curl('/headers');
      return r.status === '200' && r.body.includes('X-Forwarded-Client-Cert') ? r : undefined;
    }, 60_000);
    assert.match(res.body, /By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/waypoint;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default/);
    assert.match(res.body, /X-Request-Id/);
    const lines = await waitFor('both HBONE hops in ztunnel\'s access log', () => {
      const log = accessLog();
      const out = log.find((l) => l.includes('src.workload="client"') && l.includes('dst.hbone_addr=') && l.includes('dst.service="httpbin.default.svc.cluster.local"') && l.includes('direction="outbound"'));
      const inbound = log.find((l) => l.includes('src.identity="spiffe://cluster.local/ns/default/sa/waypoint"') && l.includes('dst.workload="httpbin-') && l.includes('direction="inbound"'));
      return out && inbound ? { out, inbound } : undefined;
    });
    // client → the waypoint pod's 15008 with the service VIP as authority; waypoint → the httpbin pod's 15008 with its own address
    assert.match(lines.out, /dst\.addr=(\d+\.\d+\.\d+\.\d+):15008 dst\.hbone_addr=10\.96\.\d+\.\d+:8000/);
    assert.match(lines.inbound, /dst\.addr=(\d+\.\d+\.\d+\.\d+):15008 dst\.hbone_addr=\1:8080/);
  });

  it('reports the requests it carries as Istio\'s waypoints do (istio_requests_total, reporter="waypoint")', async () => {
    const pods = JSON.parse((await cli(['get', 'pods', '-o', 'json'], dir)).stdout) as { items: { metadata: { name: string } }[] };
    const waypoint = pods.items.find((p) => p.metadata.name.startsWith('waypoint-'))!.metadata.name;
    const series = await waitFor('a reporter="waypoint" series naming both workloads', async () => {
      const m = (await cli(['exec', waypoint, '--', 'curl', '-s', '--max-time', '5', 'http://127.0.0.1:15090/stats/prometheus'], dir)).stdout;
      return m.split('\n').find((l) => l.startsWith('istio_requests_total{reporter="waypoint"') && l.includes('source_workload="client"') && l.includes('destination_workload="httpbin"') && l.includes('response_code="200"'));
    });
    assert.match(series, /source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/default"/);
    assert.match(series, /destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin"/);
    assert.match(series, /destination_service="httpbin\.default\.svc\.cluster\.local"/);
    assert.match(series, /connection_security_policy="mutual_tls"/);
  });

  it('enforces an L7 AuthorizationPolicy attached to the waypoint by targetRefs (403 for the denied path only)', async () => {
    await apply(DENY_HEADERS);
    const denied = await waitFor('403 for /headers', async () => {
      const r = await curl('/headers');
      return r.status === '403' ? r : undefined;
    });
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal((await curl('/get')).status, '200');
  });

  it('falls back to the direct L4 path when the service stops using the waypoint', async () => {
    await apply(service(false));
    const direct = await waitFor('/headers straight to httpbin', async () => {
      const r = await curl('/headers');
      return r.status === '200' && !r.body.includes('X-Forwarded-Client-Cert') ? r : undefined;
    });
    assert.doesNotMatch(direct.body, /X-Request-Id/);
  });
});
