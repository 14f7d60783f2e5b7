import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { AmbientMesh, namespaceManifest, strictManifest } from './support/ambient-mesh.ts';

/**
 * Sidecars and gateways toward ambient pods, through the real CLI in network namespaces, as
 * Istio's ambient profile runs them (`ISTIO_META_ENABLE_HBONE=true`): under PeerAuthentication
 * STRICT a sidecar client reaches an ambient server over HBONE with its own identity (plaintext
 * would be refused by ztunnel), the ingress gateway too; and with `istio.io/ingress-use-waypoint`
 * on the Service the gateway sends to the service's waypoint instead of straight to the pods.
 */
const skip = await rootSkipReason();

const service = (ingressUseWaypoint: boolean): string => `apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: default
  labels: {app: httpbin, istio.io/use-waypoint: waypoint${ingressUseWaypoint ? ', istio.io/ingress-use-waypoint: "true"' : ''}}
spec:
  ports: [{name: http, port: 8000, targetPort: 8080}]
  selector: {app: httpbin}
`;

const MESH = `${namespaceManifest('default', 'ambient')}---
${namespaceManifest('legacy', 'injected')}---
${strictManifest('default')}---
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
${service(false)}---
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
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: legacy}
spec:
  replicas: 1
  selector: {matchLabels: {app: sleep}}
  template:
    metadata: {labels: {app: sleep}}
    spec:
      containers: [{name: sleep, image: curl, command: [sleep, infinity]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: httpbin-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: default}
spec:
  hosts: ["*"]
  gateways: [httpbin-gateway]
  http: [{route: [{destination: {host: httpbin, port: {number: 8000}}}]}]
`;

const VIA_WAYPOINT = 'By=spiffe://cluster.local/ns/default/sa/waypoint';

describe('sidecars and gateways to ambient pods over HBONE (STRICT), ingress-use-waypoint', { skip, timeout: 300_000 }, () => {
  const mesh = new AmbientMesh('hbone-interop');
  let gatewayPort = 0;

  const gateway = async (path: string): Promise<{ status: number; body: string }> => {
    try {
      const r = await fetch(`http://127.0.0.1:${gatewayPort}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: r.status, body: await r.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };
  const accessLog = (): string[] => mesh.accessLog();

  before(async () => {
    gatewayPort = await freePort();
    mesh.create(MESH);
  });
  after(() => mesh.down());

  it('lets a sidecar client reach an ambient server under STRICT, over HBONE with the sidecar\'s identity', async () => {
    await mesh.up(['--ingress-gateway', '--expose', `istio-system/istio-ingressgateway:80=${gatewayPort}`]);
    const sleep = (await mesh.pods('legacy')).find((p) => p.name.startsWith('sleep-'))!.name;
    await waitFor('the sidecar client gets 200 from the ambient server', async () => {
      const r = await mesh.curl({ namespace: 'legacy', pod: sleep, container: 'sleep' }, ['-o', '/dev/null', 'http://httpbin.default:8000/get']);
      return r.status === '200';
    }, 60_000);
    const inbound = await waitFor('ztunnel logs the HBONE connection with the sidecar\'s identity', () => accessLog().find((l) => l.includes('src.identity="spiffe://cluster.local/ns/legacy/sa/default"') && l.includes('direction="inbound"')));
    assert.match(inbound, /dst\.workload="httpbin-/);
  });

  it('lets the ingress gateway reach the ambient server over HBONE, skipping its waypoint without ingress-use-waypoint', async () => {
    const r = await waitFor('200 through the gateway', async () => {
      const g = await gateway('/headers');
      return g.status === 200 ? g : undefined;
    }, 60_000);
    assert.ok(!r.body.includes(VIA_WAYPOINT), r.body);
    await waitFor('ztunnel logs the gateway\'s identity', () => accessLog().find((l) => l.includes('src.identity="spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway') && l.includes('direction="inbound"')));
  });

  it('sends ingress traffic through the service\'s waypoint with istio.io/ingress-use-waypoint', async () => {
    await mesh.apply(service(true));
    const r = await waitFor('the gateway goes through the waypoint', async () => {
      const g = await gateway('/headers');
      return g.status === 200 && g.body.includes(VIA_WAYPOINT) ? g : undefined;
    }, 60_000);
    assert.match(r.body, /URI=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway/);
  });
});
