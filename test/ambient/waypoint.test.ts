import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh } from './support/ambient-mesh.ts';

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
  const mesh = new AmbientMesh('waypoint');

  const apply = (yaml: string): Promise<void> => mesh.apply(yaml);
  /** curl from the client pod (as its application would): status and body, status 000 when the connection failed. */
  const curl = (path: string): Promise<{ status: string; body: string }> => mesh.curl({ pod: 'client' }, [`http://httpbin:8000${path}`]);
  const accessLog = (): string[] => mesh.accessLog();

  before(() => mesh.create(MESH));
  after(() => mesh.down());

  it('carries the client\'s requests through the waypoint over HBONE, with the client\'s identity', async () => {
    await mesh.up();
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
    const pods = JSON.parse((await mesh.cli(['get', 'pods', '-o', 'json'])).stdout) as { items: { metadata: { name: string } }[] };
    const waypoint = pods.items.find((p) => p.metadata.name.startsWith('waypoint-'))!.metadata.name;
    const series = await waitFor('a reporter="waypoint" series naming both workloads', async () => {
      const m = (await mesh.cli(['exec', waypoint, '--', 'curl', '-s', '--max-time', '5', 'http://127.0.0.1:15090/stats/prometheus'])).stdout;
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
