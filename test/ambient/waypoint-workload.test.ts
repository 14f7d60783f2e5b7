import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh } from './support/ambient-mesh.ts';

/**
 * Workload-addressed waypoints through the real CLI, in network namespaces (Istio's
 * `istio.io/waypoint-for: workload`): the namespace's `istio.io/use-waypoint` binds its pods, so
 * traffic addressed to a pod's IP goes ztunnel → waypoint → ztunnel (the waypoint applying the
 * policies attached to it), while traffic addressed to the Service goes direct (a workload
 * waypoint does not serve services); a pod's own `istio.io/use-waypoint: none` wins over its
 * namespace's label.
 */
const skip = await rootSkipReason();

const httpbin = (name: string, podLabels: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}${podLabels}}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: docker.io/mccutchen/go-httpbin:v2.15.0, ports: [{containerPort: 8080}]}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: default
  labels: {istio.io/waypoint-for: workload}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: default}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: default, labels: {app: httpbin}}
spec:
  ports: [{name: http, port: 8000, targetPort: 8080}]
  selector: {app: httpbin}
---
${httpbin('httpbin', '')}---
${httpbin('optout', ', istio.io/use-waypoint: none')}---
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
  rules: [{to: [{operation: {paths: ["/headers"]}}]}]
`;

const VIA_WAYPOINT = /By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/waypoint;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default/;

describe('ambient waypoint for workload-addressed traffic (waypoint-for: workload)', { skip, timeout: 300_000 }, () => {
  const mesh = new AmbientMesh('waypoint-workload');
  const ips = new Map<string, string>();

  const curl = (target: string): Promise<{ status: string; body: string }> => mesh.curl({ pod: 'client' }, [`http://${target}`]);

  before(() => mesh.create(MESH));
  after(() => mesh.down());

  it('sends traffic addressed to a bound pod through the waypoint, with the client\'s identity', async () => {
    await mesh.up();
    // kubectl's List of Pods
    const pods = JSON.parse((await mesh.cli(['get', 'pods', '-o', 'json'])).stdout) as { items: { metadata: { name: string }; status: { podIP: string } }[] };
    for (const p of pods.items) ips.set(p.metadata.name.replace(/-\w+-\w+$/, ''), p.status.podIP);
    assert.ok(ips.get('httpbin') && ips.get('optout'), JSON.stringify(pods.items));
    const res = await waitFor('the httpbin pod through the waypoint', async () => {
      const r = await curl(`${ips.get('httpbin')}:8080/headers`);
      return r.status === '200' && r.body.includes('X-Forwarded-Client-Cert') ? r : undefined;
    }, 60_000);
    assert.match(res.body, VIA_WAYPOINT);
  });

  it('sends traffic addressed to the Service direct (a workload waypoint does not serve services)', async () => {
    const r = await curl('httpbin:8000/headers');
    assert.equal(r.status, '200', r.body);
    assert.doesNotMatch(r.body, /X-Forwarded-Client-Cert/);
  });

  it('lets a pod\'s own istio.io/use-waypoint: none win over its namespace\'s label', async () => {
    const r = await curl(`${ips.get('optout')}:8080/headers`);
    assert.equal(r.status, '200', r.body);
    assert.doesNotMatch(r.body, /X-Forwarded-Client-Cert/);
  });

  it('carries non-HTTP bytes to a bound pod through the waypoint\'s TCP chain (tcp_proxy to encap)', async () => {
    const pods = JSON.parse((await mesh.cli(['get', 'pods', '-o', 'json'])).stdout) as { items: { metadata: { name: string } }[] };
    const waypoint = pods.items.find((p) => p.metadata.name.startsWith('waypoint-'))!.metadata.name;
    const tcpConnections = async (): Promise<number> => {
      const stats = (await mesh.cli(['exec', waypoint, '--', 'curl', '-s', '--max-time', '5', 'http://127.0.0.1:15000/stats'])).stdout;
      return Number(/^tcp\.downstream_cx_total: (\d+)$/m.exec(stats)?.[1] ?? 0);
    };
    const before = await tcpConnections();
    // not HTTP: the sniffer sends it to direct-tcp; go-httpbin answers the garbage with a 400
    const r = await mesh.cli(['exec', 'client', '--', 'bash', '-c', `exec 3<>/dev/tcp/${ips.get('httpbin')}/8080; printf 'XYZ\\r\\n\\r\\n' >&3; timeout 5 head -c 12 <&3`]);
    assert.equal(r.stdout, 'HTTP/1.1 400');
    assert.equal(await tcpConnections(), before + 1);
  });

  it('enforces the waypoint\'s AuthorizationPolicy on workload-addressed HTTP (403 for the denied path only)', async () => {
    await mesh.apply(DENY_HEADERS);
    const denied = await waitFor('403 for /headers', async () => {
      const r = await curl(`${ips.get('httpbin')}:8080/headers`);
      return r.status === '403' ? r : undefined;
    });
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal((await curl(`${ips.get('httpbin')}:8080/get`)).status, '200');
    // not bound: the policy of the waypoint does not apply
    assert.equal((await curl(`${ips.get('optout')}:8080/headers`)).status, '200');
  });
});
