import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { WORKLOAD_PROTO_FILES } from '../../src/api/workload/workload-protos.ts';
import { Discovery } from '../../src/control/discovery.ts';
import { jsonToStruct } from '../../src/control/xds/proxy-info.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogFactory } from '../../src/lib/log.ts';
import { AdsTestClient, type DecodedResponse } from '../xds/support/ads-test-client.ts';

/**
 * Istio's workload API from `mizzen discovery` to a ztunnel-shaped client over delta ADS: the
 * Address and Authorization resources (Istio's field names and numbers, decoded with our .proto),
 * incremental pushes (one changed pod is one Address), and ztunnel's on-demand subscription.
 */
const root = loadEnvoyRoot(WORKLOAD_PROTO_FILES);

function ztunnelNode(node = 'mizzen-node'): Record<string, unknown> {
  return { id: 'ztunnel~10.244.0.1~ztunnel-abc.istio-system~istio-system.svc.cluster.local', metadata: jsonToStruct({ NAME: 'ztunnel-abc', NAMESPACE: 'istio-system', NODE_NAME: node, INSTANCE_IPS: '10.244.0.1' }) };
}

function pod(name: string, ip: string, labels: Record<string, string>, extra: { annotations?: Record<string, string>; sa?: string; node?: string } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: demo
  labels: ${JSON.stringify(labels)}
  annotations: ${JSON.stringify(extra.annotations ?? {})}
spec:
  serviceAccountName: ${extra.sa ?? 'default'}
  nodeName: ${extra.node ?? 'mizzen-node'}
  containers: [{name: app, image: app, ports: [{name: http, containerPort: 8080}]}]
status:
  podIP: ${ip}
  podIPs: [{ip: ${ip}}]
  phase: Running
  conditions: [{type: Ready, status: "True"}]
`;
}

const BASE = `apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]
    to: [{operation: {ports: ["8080"]}}]
  - from: [{source: {namespaces: [demo]}}]
    to: [{operation: {methods: [GET]}}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`;

type Workload = { uid: string; name: string; addresses: Buffer[]; tunnelProtocol?: string; serviceAccount?: string; node?: string; services?: Record<string, { ports: { servicePort: number; targetPort: number }[] }>; authorizationPolicies?: string[]; canonicalName?: string; workloadName?: string; status?: string };
type Service = { name: string; namespace: string; hostname: string; addresses: { address: Buffer }[]; ports: { servicePort: number; targetPort?: number }[] };

function decode(resp: DecodedResponse): { name: string; aliases: string[]; workload?: Workload; service?: Service; auth?: Record<string, unknown> }[] {
  return resp.resources.map((r) => {
    const any = r.resource!;
    const t = root.lookupType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
    const obj = t.toObject(t.decode(any.value), { enums: String, bytes: Buffer }) as Record<string, unknown>;
    const aliases = (r as { aliases?: string[] }).aliases ?? [];
    if (resp.typeUrl === TYPE_URL.authorization) return { name: r.name!, aliases, auth: obj };
    return { name: r.name!, aliases, workload: obj.workload as Workload | undefined, service: obj.service as Service | undefined };
  });
}

describe('workload API (delta ADS) for ztunnel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-wds-'));
  let d: Discovery;
  let grpc: string;
  const clients: AdsTestClient[] = [];
  const client = (): AdsTestClient => {
    const c = new AdsTestClient(root, grpc, 'delta');
    clients.push(c);
    return c;
  };

  before(async () => {
    writeFileSync(join(dir, 'base.yaml'), BASE);
    writeFileSync(join(dir, 'client.yaml'), pod('client-0', '10.244.1.5', { app: 'client' }, { sa: 'client', annotations: { 'ambient.istio.io/redirection': 'enabled' } }));
    writeFileSync(join(dir, 'server.yaml'), pod('server-0', '10.244.1.7', { app: 'server', 'pod-template-hash': 'abc' }, { sa: 'server' }));
    writeFileSync(join(dir, 'other.yaml'), pod('other-0', '10.244.2.9', { app: 'other' }, { node: 'node-2' }));
    d = new Discovery({
      configPaths: [dir],
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 200,
      clock: systemClock,
      logs: createLogFactory({ levels: 'silent' }),
      rescanIntervalMs: 100,
    });
    grpc = (await d.start()).grpc;
  });
  after(async () => {
    for (const c of clients) c.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends every Workload and Service to a wildcard subscriber, with Istio names, aliases and fields', async () => {
    const c = client();
    c.send({ node: ztunnelNode(), typeUrl: TYPE_URL.workloadAddress });
    const r = await c.next();
    assert.equal(r.typeUrl, TYPE_URL.workloadAddress);
    const all = decode(r);
    assert.deepEqual(all.map((a) => a.name).sort(), ['Kubernetes//Pod/demo/client-0', 'Kubernetes//Pod/demo/other-0', 'Kubernetes//Pod/demo/server-0', 'demo/server.demo.svc.cluster.local']);
    const client0 = all.find((a) => a.name === 'Kubernetes//Pod/demo/client-0')!;
    assert.deepEqual(client0.aliases, ['/10.244.1.5']);
    assert.equal(client0.workload!.tunnelProtocol, 'HBONE', 'redirection annotation → HBONE');
    assert.equal(client0.workload!.serviceAccount, 'client');
    assert.deepEqual([...client0.workload!.addresses[0]!], [10, 244, 1, 5]);
    assert.deepEqual(client0.workload!.authorizationPolicies, ['istio-system/istio_converted_static_strict']);
    const server0 = all.find((a) => a.name === 'Kubernetes//Pod/demo/server-0')!.workload!;
    assert.equal(server0.tunnelProtocol, undefined, 'not redirected: NONE');
    assert.equal(server0.workloadName, 'server-0', 'a pod without owner is its own workload');
    assert.equal(server0.canonicalName, 'server');
    assert.deepEqual(server0.services, { 'demo/server.demo.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] } }, 'named targetPort resolved per workload');
    assert.deepEqual(server0.authorizationPolicies, ['demo/allow-client', 'istio-system/istio_converted_static_strict']);
    const svc = all.find((a) => a.service)!;
    assert.deepEqual(svc.aliases, ['/10.96.0.10']);
    assert.equal(svc.service!.hostname, 'server.demo.svc.cluster.local');
    assert.deepEqual(svc.service!.ports.map((p) => [p.servicePort, p.targetPort ?? 0]), [[80, 0]]);
    c.send({ typeUrl: TYPE_URL.workloadAddress, responseNonce: r.nonce });

    c.send({ typeUrl: TYPE_URL.authorization });
    const a = await c.next();
    const auths = decode(a);
    assert.deepEqual(auths.map((x) => x.name), ['demo/allow-client', 'istio-system/istio_converted_static_strict']);
    const allow = auths[0]!.auth as { scope: string; action: string; groups: unknown[] };
    assert.equal(allow.scope, 'WORKLOAD_SELECTOR');
    assert.equal(allow.action, 'ALLOW');
    assert.equal(allow.groups.length, 1, 'the rule with HTTP methods is dropped from an ALLOW');
    assert.deepEqual(allow.groups[0], { rules: [{ matches: [{ destinationPorts: [8080] }] }, { matches: [{ principals: [{ exact: 'cluster.local/ns/demo/sa/client' }] }] }] });
    c.send({ typeUrl: TYPE_URL.authorization, responseNonce: a.nonce });

    // A pod change reaches ztunnel as that one Address.
    writeFileSync(join(dir, 'server.yaml'), pod('server-0', '10.244.1.7', { app: 'server', 'pod-template-hash': 'abc' }, { sa: 'server', annotations: { 'ambient.istio.io/redirection': 'enabled' } }));
    const r2 = await c.next(10_000);
    assert.equal(r2.typeUrl, TYPE_URL.workloadAddress);
    const changed = decode(r2);
    assert.deepEqual(changed.map((x) => x.name), ['Kubernetes//Pod/demo/server-0']);
    assert.equal(changed[0]!.workload!.tunnelProtocol, 'HBONE');
    c.send({ typeUrl: TYPE_URL.workloadAddress, responseNonce: r2.nonce });

    // A removed pod is a removed resource.
    rmSync(join(dir, 'other.yaml'));
    const r3 = await c.next(10_000);
    assert.deepEqual(r3.removedResources, ['Kubernetes//Pod/demo/other-0']);
    assert.equal(r3.resources.length, 0);
    writeFileSync(join(dir, 'other.yaml'), pod('other-0', '10.244.2.9', { app: 'other' }, { node: 'node-2' }));
    c.send({ typeUrl: TYPE_URL.workloadAddress, responseNonce: r3.nonce });
    const r4 = await c.next(10_000);
    assert.deepEqual(decode(r4).map((x) => x.name), ['Kubernetes//Pod/demo/other-0']);
  });

  it('answers on-demand subscriptions by alias with the resource, its aliases, the pods behind a VIP and its node', async () => {
    const c = client();
    c.send({ node: ztunnelNode(), typeUrl: TYPE_URL.workloadAddress, resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] });
    const r0 = await c.next();
    const first = decode(r0).map((x) => x.name).sort();
    assert.deepEqual(first, ['Kubernetes//Pod/demo/client-0', 'Kubernetes//Pod/demo/server-0'], 'subscribing to nothing still brings the node\'s own workloads');
    c.send({ typeUrl: TYPE_URL.workloadAddress, responseNonce: r0.nonce, resourceNamesSubscribe: ['/10.96.0.10', '/10.244.2.9', '/10.1.2.3'] });
    const r1 = await c.next();
    const got = decode(r1);
    assert.deepEqual(got.map((x) => x.name).sort(), ['Kubernetes//Pod/demo/other-0', 'demo/server.demo.svc.cluster.local']);
    assert.deepEqual(got.find((x) => x.service)!.aliases, ['/10.96.0.10']);
    assert.deepEqual(r1.removedResources, ['/10.1.2.3'], 'an alias nothing answers to is reported removed');
  });
});
