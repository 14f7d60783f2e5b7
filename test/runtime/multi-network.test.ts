import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { leftovers, rootSkipReason, waitFor } from './netns-test-support.ts';
import { SAMPLES, TaskMesh } from './task-mesh.ts';

/**
 * Istio's multi-network mesh ("Install Multi-Primary / Primary-Remote on different networks")
 * through `mizzen up`: istio-system labelled `topology.istio.io/network=network1` as the pages do
 * (`mizzen label namespace`; the default network, the mesh's node), pods labelled `network2` on a second node namespace with its own pod
 * CIDR, an east-west gateway per network as Istio's samples deploy it (`istio: eastwestgateway`,
 * the network label, ISTIO_META_REQUESTED_NETWORK_VIEW) and Istio's expose-services.yaml
 * (AUTO_PASSTHROUGH on 15443). sleep on network1 calls a service whose only endpoint is on
 * network2, and helloworld with one version on each network.
 */
const EXPOSE = join(SAMPLES, 'multicluster/expose-services.yaml');
const skip = (await rootSkipReason()) || (!existsSync(join(SAMPLES, 'sleep/sleep.yaml')) || !existsSync(EXPOSE) ? `Istio's samples are missing (${SAMPLES})` : false);
const run = promisify(execFile);

const APP = "require('node:http').createServer((q, s) => s.end('Hello version: ' + process.env.SERVICE_VERSION + '\\n')).listen(5000)";

const NAMESPACES = `apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: sample
  labels: { istio-injection: enabled }
`;

/** An east-west gateway as Istio's gen-eastwest-gateway.sh makes it for one network. */
const eastwest = (network: string, replicas = 1): string => `apiVersion: v1
kind: Service
metadata:
  name: istio-eastwestgateway-${network}
  namespace: istio-system
  labels: { app: istio-eastwestgateway, istio: eastwestgateway, topology.istio.io/network: ${network} }
spec:
  type: LoadBalancer
  selector: { istio: eastwestgateway, topology.istio.io/network: ${network} }
  ports:
  - { name: status-port, port: 15021, targetPort: 15021 }
  - { name: tls, port: 15443, targetPort: 15443 }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-eastwestgateway-${network}
  namespace: istio-system
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { istio: eastwestgateway, topology.istio.io/network: ${network} }
  template:
    metadata:
      labels: { app: istio-eastwestgateway, istio: eastwestgateway, topology.istio.io/network: ${network}, sidecar.istio.io/inject: "true" }
      annotations:
        inject.istio.io/templates: gateway
        proxy.istio.io/config: '{"proxyMetadata": {"ISTIO_META_REQUESTED_NETWORK_VIEW": "${network}"}}'
    spec:
      containers:
      - name: istio-proxy
        image: auto
        ports:
        - { containerPort: 15021, name: status-port }
        - { containerPort: 15443, name: tls }
`;

const service = (name: string): string => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: sample, labels: { app: ${name} } }
spec:
  ports: [{ port: 5000, name: http }]
  selector: { app: ${name} }
`;

const app = (name: string, version: string, network: string, replicas = 1): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}-${version}, namespace: sample }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name}, version: ${version} } }
  template:
    metadata:
      labels: { app: ${name}, version: ${version}, topology.istio.io/network: ${network} }
    spec:
      containers:
      - name: ${name}
        command: ["node", "-e", ${JSON.stringify(APP)}]
        env: [{ name: SERVICE_VERSION, value: ${name}-${version} }]
        ports: [{ containerPort: 5000 }]
`;

describe('multi-network east-west gateway (AUTO_PASSTHROUGH) through mizzen up', { skip, timeout: 600_000 }, () => {
  let mesh: TaskMesh;
  const curl = (url: string): Promise<string> => mesh.exec('sample', 'deploy/sleep', ['curl', '-sS', '-m', '5', url]).then((r) => r.stdout);
  const pods = async (ns: string): Promise<{ name: string; ip: string; labels: Record<string, string> }[]> => {
    const r = await mesh.cli(['get', 'pods', '-n', ns, '-o', 'json']);
    const list = JSON.parse(r.stdout) as { items: { metadata: { name: string; labels?: Record<string, string> }; status: { podIP?: string } }[] };
    return list.items.map((p) => ({ name: p.metadata.name, ip: p.status.podIP ?? '', labels: p.metadata.labels ?? {} }));
  };
  /** A cluster's upstream_cx_total summed over network2's east-west gateway pods (its load balancer spreads connections over them). */
  const gatewayConnections = async (cluster: string): Promise<number> => {
    let total = 0;
    for (const gw of (await pods('istio-system')).filter((p) => p.name.startsWith('istio-eastwestgateway-network2-'))) {
      const stats = await inPod('istio-system', gw.name, ['curl', '-sS', '127.0.0.1:15000/stats']);
      const m = new RegExp(`^cluster\\.${cluster.replaceAll('.', '\\.')}\\.upstream_cx_total: (\\d+)$`, 'm').exec(stats);
      total += m ? Number(m[1]) : 0;
    }
    return total;
  };
  /** Run a command inside a pod's network namespace (the test is root), e.g. the gateway's admin on 127.0.0.1:15000. */
  const inPod = async (ns: string, pod: string, cmd: string[]): Promise<string> => (await run('ip', ['netns', 'exec', `${mesh.prefix}-${ns}.${pod}`, ...cmd], { maxBuffer: 16 << 20 })).stdout;

  before(async () => {
    mesh = await TaskMesh.up('multi-network', { 'namespaces.yaml': NAMESPACES });
    // as Istio's install pages: "kubectl label namespace istio-system topology.istio.io/network=network1"
    const label = await mesh.cli(['label', 'namespace', 'istio-system', 'topology.istio.io/network=network1']);
    assert.equal(label.code, 0, label.stderr);
    await mesh.apply(eastwest('network1') + '---\n' + eastwest('network2', 2));
    await mesh.apply(EXPOSE, 'istio-system');
    await mesh.apply([service('remote'), app('remote', 'v1', 'network2'), service('helloworld'), app('helloworld', 'v1', 'network1'), app('helloworld', 'v2', 'network2', 2)].join('---\n'));
    await mesh.apply(readFileSync(join(SAMPLES, 'sleep/sleep.yaml'), 'utf8'), 'sample');
  });

  after(async () => {
    const prefix = mesh?.prefix;
    await mesh?.down();
    if (prefix) {
      assert.deepEqual(await leftovers(prefix, [], ['10.245.0.0/16']), [], "network2's node, link and guard route are gone");
      assert.equal(existsSync(`/run/mizzen/guards/${prefix}.network1.holder`), false);
    }
  });

  it('runs the east-west gateways and the apps on their networks (network2 on its own pod CIDR)', async () => {
    for (const a of ['remote', 'helloworld', 'sleep']) await mesh.ready('sample', a, 180_000);
    await mesh.ready('istio-system', 'istio-eastwestgateway-network2', 180_000);
    await mesh.ready('istio-system', 'istio-eastwestgateway-network1', 180_000);
    const remote = (await pods('sample')).find((p) => p.name.startsWith('remote-'))!;
    const sleep = (await pods('sample')).find((p) => p.name.startsWith('sleep-'))!;
    assert.match(remote.ip, /^10\.245\./, 'network2 pods take addresses from the next pod CIDR');
    assert.match(sleep.ip, /^10\.244\./);
    assert.equal(sleep.labels['topology.istio.io/network'], 'network1', "a pod is labelled with the network it was placed on (istio-system's)");
  });

  it("sleep (network1) reaches a service whose only endpoint is on network2, through network2's gateway", async () => {
    await mesh.settles('remote answers', async () => (await curl('http://remote.sample:5000/')).startsWith('Hello version: remote-v1'), 90_000, 3);
  });

  it('the direct path is not possible: network1 cannot reach a network2 pod address', async () => {
    const remote = (await pods('sample')).find((p) => p.name.startsWith('remote-'))!;
    const r = await mesh.exec('sample', 'deploy/sleep', ['curl', '-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${remote.ip}:5000/`]);
    assert.notEqual(r.stdout.trim(), '200', `a direct request to ${remote.ip} must fail (got ${r.stdout} ${r.stderr})`);
    const route = await run('ip', ['-n', `${mesh.prefix}-node`, 'route', 'get', remote.ip]).then((x) => x.stdout, (e: { stderr?: string }) => e.stderr ?? '');
    assert.match(route, /No route to host/, `the default node has only an unreachable route to ${remote.ip}: ${route}`);
    // while network2's gateway address (its node's link address, the gateway Service's load balancer) is routed
    const gateway = JSON.parse((await mesh.cli(['get', 'svc', 'istio-eastwestgateway-network2', '-n', 'istio-system', '-o', 'json'])).stdout) as { status?: { loadBalancer?: { ingress?: { ip: string }[] } } };
    const lb = gateway.status?.loadBalancer?.ingress?.[0]?.ip ?? '';
    assert.equal(lb, '10.245.255.254', "the gateway Service's EXTERNAL-IP is network2's address");
    assert.match((await run('ip', ['-n', `${mesh.prefix}-node`, 'route', 'get', lb])).stdout, /dev nw1/);
  });

  it("the east-west gateway carried it (its SNI-DNAT cluster's connections), mTLS end to end (the destination sidecar saw sleep's identity)", async () => {
    assert.ok((await gatewayConnections('outbound_.5000_._.remote.sample.svc.cluster.local')) > 0, "network2's gateway SNI-DNAT cluster for remote has connections");
    const remote = (await pods('sample')).find((p) => p.name.startsWith('remote-'))!;
    const prom = await inPod('sample', remote.name, ['curl', '-sS', '127.0.0.1:15090/stats/prometheus']);
    const line = prom.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"') && l.includes('source_workload="sleep"'));
    assert.ok(line, 'the destination sidecar reports requests from sleep');
    assert.match(line, /connection_security_policy="mutual_tls"/);
    assert.match(line, /source_principal="spiffe:\/\/cluster\.local\/ns\/sample\/sa\/sleep"/);
  });

  it("helloworld with one pod on network1 and two on network2: sleep's proxy has the local pod at weight 1 and network2's gateway at weight 2; both versions answer", async () => {
    const sleep = (await pods('sample')).find((p) => p.name.startsWith('sleep-'))!;
    const v1 = (await pods('sample')).find((p) => p.name.startsWith('helloworld-v1-'))!;
    type Clusters = { clusterStatuses: { name: string; hostStatuses: { address: { socketAddress: { address: string; portValue: number } }; weight: number }[] }[] };
    await mesh.settles('split-horizon weights reach sleep', async () => {
      const dump = JSON.parse(await inPod('sample', sleep.name, ['curl', '-sS', '127.0.0.1:15000/clusters?format=json'])) as Clusters;
      const hosts = dump.clusterStatuses.find((c) => c.name === 'outbound|5000||helloworld.sample.svc.cluster.local')?.hostStatuses ?? [];
      const weights = hosts.map((h) => `${h.address.socketAddress.address}:${h.address.socketAddress.portValue}=${h.weight}`).sort();
      return JSON.stringify(weights) === JSON.stringify([`${v1.ip}:5000=1`, '10.245.255.254:15443=2'].sort());
    }, 120_000, 2);
    const seen = new Map<string, number>();
    await waitFor('both helloworld versions answer', async () => {
      for (let i = 0; i < 10; i++) {
        const v = (await curl('http://helloworld.sample:5000/')).trim();
        seen.set(v, (seen.get(v) ?? 0) + 1);
      }
      return seen.has('Hello version: helloworld-v1') && seen.has('Hello version: helloworld-v2');
    }, 120_000);
    assert.ok((await gatewayConnections('outbound_.5000_._.helloworld.sample.svc.cluster.local')) > 0, 'helloworld-v2 was reached through the gateway');
  });
});
