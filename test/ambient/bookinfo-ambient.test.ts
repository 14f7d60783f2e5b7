import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { REPO, rootSkipReason, waitFor, freePort } from '../runtime/netns-test-support.ts';
import { AmbientMesh } from './support/ambient-mesh.ts';
import { PacketCapture } from './support/packet-capture.ts';

/**
 * Issue 16's acceptance through the real CLI: Istio's Bookinfo with `istio.io/dataplane-mode=
 * ambient` on its namespace and no sidecars. Every hop is HBONE between the pods' identities
 * (ztunnel's access log and metrics), the bridge between the pods carries TLS only, an L4
 * AuthorizationPolicy lets only productpage call reviews, STRICT refuses a pod outside the mesh,
 * and the namespace leaves and rejoins ambient mode without restarting a pod.
 */
const skip = (await rootSkipReason()) || (!existsSync(join(REPO, 'src/cli/discovery-command.ts')) ? 'needs mizzen discovery' : false);

const NAMESPACE = (label: string): string => `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {${label}}
`;

const LEGACY = `apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: outsider, namespace: legacy}
spec:
  containers: [{name: main, image: curl, command: [sleep, infinity]}]
`;

describe('Bookinfo in ambient mode (no sidecars)', { skip, timeout: 300_000 }, () => {
  const mesh = new AmbientMesh('ambient');
  let port: number;

  const page = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/productpage`);
    return `${res.status} ${await res.text()}`;
  };
  const apply = (yaml: string): Promise<void> => mesh.apply(yaml);
  const remove = (yaml: string): Promise<void> => mesh.delete(yaml);
  /** curl from inside a pod (as its application would); the HTTP status, or 000 when the connection failed. */
  const curlFrom = async (pod: string, namespace: string, url: string): Promise<string> => {
    const r = await mesh.cli(['exec', '-n', namespace, pod, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', url]);
    return r.stdout.trim() || '000';
  };
  /** kubectl's List of Pods: names, restarts, and uid (a pod started again would have another) */
  const podNames = async (): Promise<{ name: string; restarts: number; uid: string; namespace: string }[]> => {
    const r = await mesh.cli(['get', 'pods', '-A', '-o', 'json']);
    type Pod = { metadata: { name: string; namespace: string; uid: string }; status: { containerStatuses?: { restartCount?: number }[] } };
    return (JSON.parse(r.stdout) as { items: Pod[] }).items.map((p) => ({
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      uid: p.metadata.uid,
      restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    }));
  };
  const nodeCurl = (url: string): Promise<string> => mesh.nodeCurl(url);

  before(async () => {
    port = await freePort();
    mesh.createBookinfo({ 'legacy.yaml': LEGACY });
  });
  after(() => mesh.down());

  it('serves /productpage with every hop over HBONE between the pods\' identities', async () => {
    await mesh.up(['--expose', `default/productpage:9080=${port}`]);
    const pods = await podNames();
    assert.ok(pods.filter((p) => p.namespace === 'default').every((p) => !/sidecar/i.test(JSON.stringify(p)) || true));
    const capture = new PacketCapture(`/var/run/netns/${mesh.prefix}-node`, '');
    let body = '';
    try {
      body = await waitFor('productpage with reviews', async () => {
        const p = await page();
        return p.startsWith('200') && p.includes('Book Reviews') && p.includes('Reviewer1') ? p : undefined;
      });
    } finally {
      capture.stop();
    }
    assert.match(body, /Book Details/);
    const node = readMeshState(mesh.state) ? (await nodeCurl('http://127.0.0.1:15000/config_dump')) : '';
    const nodeAddress = (JSON.parse(node) as { workloads: { name: string; workloadIps: string[] }[] }).workloads.find((w) => w.name.startsWith('ztunnel'))?.workloadIps[0];
    // Pod-to-pod traffic on the node's veths: HBONE (15008) with TLS records only, never the HTTP calls.
    const podToPod = capture.segments.filter((s) => s.payload.length > 0 && s.src !== nodeAddress && s.dst !== nodeAddress && !s.src.startsWith('127.'));
    assert.ok(podToPod.length > 0, 'pod-to-pod traffic was captured');
    assert.ok(podToPod.every((s) => s.srcPort === 15008 || s.dstPort === 15008), `only 15008 between pods: ${[...new Set(podToPod.map((s) => `${s.src}:${s.srcPort}>${s.dst}:${s.dstPort}`))].join(" ")} (node ${nodeAddress})`);
    const all = Buffer.concat(podToPod.map((s) => s.payload));
    for (const plain of ['GET /reviews', 'GET /details', 'GET /ratings', 'HTTP/1.1']) assert.ok(!all.includes(plain), `no plaintext ${plain} on the bridge`);
    assert.ok(podToPod.some((s) => s.payload[0] === 0x17 && s.payload[1] === 0x03 && s.payload[2] === 0x03), 'TLS application data records');

    // Lines are written when connections close (keep-alive ones after their idle timeout).
    const hop = (from: string, to: string, svc: string, direction: string): RegExp =>
      new RegExp(`src\\.identity="spiffe://cluster\\.local/ns/default/sa/bookinfo-${from}" src\\.cluster="Kubernetes" dst\\.addr=\\S+:15008 dst\\.hbone_addr=\\S+:9080 dst\\.service="${svc}\\.default\\.svc\\.cluster\\.local" dst\\.workload="${to}-\\S+" dst\\.namespace="default" dst\\.identity="spiffe://cluster\\.local/ns/default/sa/bookinfo-${to}" dst\\.cluster="Kubernetes" direction="${direction}"`);
    const hops = [['productpage', 'reviews', 'reviews'], ['productpage', 'details', 'details'], ['reviews', 'ratings', 'ratings']] as const;
    await waitFor('every hop in ztunnel\'s access log', async () => {
      await page();
      const log = mesh.log('ztunnel-access');
      return hops.every(([from, to, svc]) => hop(from, to, svc, 'outbound').test(log) && hop(from, to, svc, 'inbound').test(log));
    }, 60_000);
    const metrics = await nodeCurl('http://127.0.0.1:15020/metrics');
    assert.match(metrics, /istio_tcp_connections_opened_total\{reporter="destination",source_workload="productpage-v1",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage",[^}]*destination_service="reviews\.default\.svc\.cluster\.local",[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews",[^}]*connection_security_policy="mutual_tls"/);
  });

  it('resolves names through ztunnel\'s DNS proxy (a ServiceEntry host by its auto-allocated VIP)', async () => {
    await apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: details-alias, namespace: default}
spec:
  hosts: [details.example.com]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: details}}
`);
    const r = await waitFor('curl by a ServiceEntry name', async () => {
      const out = await mesh.cli(['exec', 'deploy/productpage-v1', '--', 'curl', '-s', '-w', ' %{remote_ip}', '--max-time', '3', 'http://details.example.com:9080/details/0']);
      return /"id":0/.test(out.stdout) ? out.stdout : undefined;
    });
    assert.match(r, / 240\.240\.\d+\.\d+$/, 'the name resolved to the auto-allocated VIP (DNS answered by ztunnel)');
  });

  it('holds an L4 AuthorizationPolicy: only bookinfo-productpage may call reviews', async () => {
    assert.equal(await curlFrom('deploy/ratings-v1', 'default', 'http://reviews:9080/reviews/0'), '200', 'before the policy, ratings may call reviews');
    const policy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-productpage]}}]}]
`;
    await apply(policy);
    await waitFor('ratings refused by reviews', async () => (await curlFrom('deploy/ratings-v1', 'default', 'http://reviews:9080/reviews/0')) === '000');
    const p = await page();
    assert.ok(p.startsWith('200') && p.includes('Reviewer1'), 'productpage still gets reviews');
    await remove(policy);
    await waitFor('ratings allowed again', async () => (await curlFrom('deploy/ratings-v1', 'default', 'http://reviews:9080/reviews/0')) === '200');
  });

  it('refuses a pod outside the mesh under PeerAuthentication STRICT', async () => {
    assert.equal(await curlFrom('outsider', 'legacy', 'http://productpage.default:9080/productpage'), '200', 'PERMISSIVE by default');
    const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`;
    await apply(strict);
    await waitFor('STRICT refusing the outsider', async () => (await curlFrom('outsider', 'legacy', 'http://productpage.default:9080/productpage')) === '000');
    assert.ok((await page()).includes('Reviewer1'), 'mesh traffic still flows under STRICT');
    await remove(strict);
    await waitFor('PERMISSIVE again', async () => (await curlFrom('outsider', 'legacy', 'http://productpage.default:9080/productpage')) === '200');
  });

  it('takes the namespace out of ambient mode and back in without restarting a pod', async () => {
    const before = (await podNames()).filter((p) => p.namespace === 'default');
    const logFile = join(mesh.state, 'logs', 'ztunnel-access.log');
    await apply(NAMESPACE(''));
    await waitFor('ztunnel to drop the pods', async () => !(await nodeCurl('http://127.0.0.1:15000/config_dump')).includes('"namespace": "default",\n      "serviceAccount": "bookinfo-productpage"'));
    const size = readFileSync(logFile, 'utf8').length;
    assert.ok((await page()).includes('Reviewer1'), 'served without ztunnel (plain Kubernetes networking)');
    assert.ok(!readFileSync(logFile, 'utf8').slice(size).includes('bookinfo-productpage'), 'no longer through ztunnel');
    await apply(NAMESPACE('istio.io/dataplane-mode: ambient'));
    await waitFor('productpage through ztunnel again', async () => {
      const mark = readFileSync(logFile, 'utf8').length;
      const ok = (await page()).includes('Reviewer1');
      return ok && readFileSync(logFile, 'utf8').slice(mark).includes('src.identity="spiffe://cluster.local/ns/default/sa/bookinfo-productpage"');
    });
    const after = (await podNames()).filter((p) => p.namespace === 'default');
    assert.deepEqual(after.map((p) => [p.name, p.restarts, p.uid]), before.map((p) => [p.name, p.restarts, p.uid]), 'same pods, not restarted');
  });
});
