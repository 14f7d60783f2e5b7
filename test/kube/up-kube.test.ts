import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { anyFreePort } from '../../src/cli/kube-forwards.ts';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { fortioBinary } from '../../src/runtime/sample-images.ts';
import { cli, REPO, rootSkipReason, waitFor } from '../runtime/netns-test-support.ts';
import { kubeBinDir, kubeSkipReason, TEST_CLUSTER_CIDRS } from './support/kube-cluster.ts';

/**
 * `mizzen up --kube examples/bookinfo -d`: the test cluster of scripts/kube-cluster.sh, `mizzen
 * install`, one `mizzen node`, `kubectl apply` of Bookinfo; then kubectl only, as the issue's
 * acceptance: every pod `2/2 Running` from real Deployments and ReplicaSets, productpage
 * answering through the sidecars; Istio's Bookinfo routing samples applied with kubectl; `kubectl
 * rollout restart` under fortio at 100 rps; STRICT mTLS against a pod of a namespace without
 * injection; an image-only container; `kubectl delete namespace`; and `mizzen down` leaving
 * nothing. About 1.5 minutes on a quiet machine, 3-5 loaded.
 */
const skip = kubeSkipReason() ?? (await rootSkipReason()) ?? undefined;
const SAMPLES = join(REPO, '../shared/istio/istio/samples');
const NETWORKING = join(SAMPLES, 'bookinfo/networking');
const samplesMissing = existsSync(NETWORKING) ? false : `Istio's samples are missing (${NETWORKING})`;
const FORTIO = fortioBinary(process.env);
const fortioMissing = FORTIO ? samplesMissing : 'fortio is not built (scripts/fortio.sh)';

/** Run in a pod (node -e): N calls to productpage's reviews API, as `end-user` USER; prints [{v, rating}]. */
const REVIEWS_SCRIPT = `const [n, user] = process.argv.slice(1); const out = [];
for (let i = 0; i < Number(n); i++) {
  const r = await fetch('http://productpage:9080/api/v1/products/0/reviews', { headers: user ? { 'end-user': user } : {}, signal: AbortSignal.timeout(10000) });
  const b = await r.json().catch(() => ({}));
  out.push({ v: b.podname?.split('-')[1] ?? 'status ' + r.status, rating: b.reviews?.[0]?.rating });
}
console.log(JSON.stringify(out));`;

type Obj = Record<string, any>;

describe('mizzen up --kube: Bookinfo with kubectl on one machine', { skip, timeout: 900_000 }, () => {
  const state = mkdtempSync(join(tmpdir(), 'mizzen-upkube-'));
  const kubeconfig = join(state, 'kubeconfig');
  // A /20 of its own in 10.244.0.0/16 (other clusters' nodes may run at the same time).
  const cidr = TEST_CLUSTER_CIDRS.upKube;
  let up: { code: number; stdout: string; stderr: string };
  let down: { code: number; stdout: string; stderr: string } | undefined;
  let prefix = '';
  let exposePort = 0;
  const clusterPids: number[] = [];
  const kubectl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });

  before(async () => {
    exposePort = await anyFreePort();
    up = await cli(['up', '--kube', 'examples/bookinfo', '-d', '--state-dir', state, '--pod-cidr', cidr, '--timeout', '600s', '--ingress-gateway', '--expose', `default/productpage:9080=${exposePort}`], REPO);
    const nodeState = join(state, 'node', 'node.json');
    if (existsSync(nodeState)) prefix = String((JSON.parse(readFileSync(nodeState, 'utf8')) as Obj).prefix);
    const clusterDir = join(state, 'cluster');
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      const f = join(clusterDir, `${c}.pid`);
      if (existsSync(f)) clusterPids.push(Number(readFileSync(f, 'utf8').trim()));
    }
  });

  after(async () => {
    try {
      down ??= await cli(['down', '--state-dir', state], REPO);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('starts the cluster, installs Mizzen, runs a node and applies Bookinfo: every pod 2/2 Running', async () => {
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}\n${existsSync(join(state, 'node.log')) ? readFileSync(join(state, 'node.log'), 'utf8').slice(-3000) : ''}`);
    assert.match(up.stdout, new RegExp(`kubeconfig: ${kubeconfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const pods = JSON.parse((await kubectl(['get', 'pods', '-n', 'default', '-o', 'json'])).stdout) as { items: Obj[] };
    const apps = pods.items.map((p) => String(p.metadata.labels?.app)).sort();
    assert.deepEqual([...new Set(apps)], ['details', 'productpage', 'ratings', 'reviews']);
    assert.equal(pods.items.length, 6);
    for (const p of pods.items) {
      assert.deepEqual((p.spec.containers as Obj[]).map((c) => c.name).sort(), [String(p.metadata.labels.app), 'istio-proxy'].sort(), `${p.metadata.name} injected by the webhook`);
      assert.equal(p.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet', 'made by kube-controller-manager');
    }
    const table = (await kubectl(['get', 'pods', '-n', 'default', '--no-headers'])).stdout.trim().split('\n');
    for (const line of table) assert.match(line, /\s2\/2\s+Running\s/);
    const slices = JSON.parse((await kubectl(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=productpage', '-o', 'json'])).stdout) as { items: Obj[] };
    assert.ok(slices.items.some((s) => (s.endpoints ?? []).some((e: Obj) => e.conditions?.ready)), 'productpage ready in its EndpointSlice');
  });

  it('productpage answers through the mesh with details and reviews (from a pod, via kubectl exec)', async () => {
    const r = await kubectl(['exec', 'deploy/ratings-v1', '-c', 'ratings', '--', 'node', '-e', "fetch('http://productpage:9080/productpage').then(async (r) => console.log(r.status, r.headers.get('server'), await r.text()))"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^200 envoy /);
    assert.match(r.stdout, /Book Details/);
    assert.match(r.stdout, /Book Reviews/);
  });

  it("--expose and --ingress-gateway: productpage on 127.0.0.1, Istio's bookinfo-gateway.yaml through the gateway's LoadBalancer", { skip: samplesMissing }, async () => {
    assert.match(up.stdout, new RegExp(`127\\.0\\.0\\.1:${exposePort} → default/productpage:9080`));
    const page = await fetch(`http://127.0.0.1:${exposePort}/productpage`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Book Details/);
    const url = /ingress gateway: (http:\/\/127\.0\.0\.1:\d+)/.exec(up.stdout)?.[1];
    assert.ok(url, up.stdout);
    const svc = (await kubectl(['get', 'svc', '-n', 'istio-system', 'istio-ingressgateway', '--no-headers'])).stdout;
    assert.match(svc, /^istio-ingressgateway\s+LoadBalancer\s+\S+\s+127\.0\.0\.1\s/);
    const gw = (await kubectl(['get', 'pods', '-n', 'istio-system', '-l', 'istio=ingressgateway', '--no-headers'])).stdout;
    assert.match(gw, /\s1\/1\s+Running\s/);
    const applied = await kubectl(['apply', '-f', join(NETWORKING, 'bookinfo-gateway.yaml')]);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor('the gateway routes /productpage', async () => (await fetch(`${url}/productpage`).then((r) => r.status, () => 0)) === 200, 60_000);
  });

  /** Calls to productpage's reviews API from the ratings pod (through its sidecar), as `user`. */
  const reviews = async (n: number, user = ''): Promise<{ v: string; rating?: unknown }[]> => {
    const r = await kubectl(['exec', 'deploy/ratings-v1', '-c', 'ratings', '--', 'node', '--input-type=module', '-e', REVIEWS_SCRIPT, String(n), user]);
    if (r.code !== 0) throw new Error(`kubectl exec: ${r.stderr}`);
    return JSON.parse(r.stdout) as { v: string; rating?: unknown }[];
  };
  const versions = async (n: number, user = ''): Promise<string> => [...new Set((await reviews(n, user)).map((x) => x.v))].sort().join();
  const apply = async (...files: string[]): Promise<void> => {
    const r = await kubectl(['apply', ...files.flatMap((f) => ['-f', join(NETWORKING, f)])]);
    assert.equal(r.code, 0, r.stderr);
  };
  /** Config takes discovery's push to arrive: poll until the routing matches. */
  const eventually = <T>(what: string, check: () => Promise<T>, ms = 60_000): Promise<NonNullable<T>> => waitFor(what, check, ms);

  it("kubectl apply of Istio's routing samples: all-v1, jason → v2, 50/50 v1/v3, ratings abort for jason", { skip: samplesMissing }, async () => {
    await eventually('v1, v2 and v3 all answer', async () => (await versions(12)) === 'v1,v2,v3');
    await apply('destination-rule-all.yaml', 'virtual-service-all-v1.yaml');
    await eventually('only v1', async () => (await versions(6)) === 'v1');
    await apply('virtual-service-reviews-test-v2.yaml');
    await eventually('jason → v2, others → v1', async () => (await versions(4, 'jason')) === 'v2' && (await versions(4)) === 'v1');
    await apply('virtual-service-reviews-50-v3.yaml');
    await eventually('v1 and v3', async () => (await versions(16)) === 'v1,v3');
    await apply('virtual-service-reviews-jason-v2-v3.yaml', 'virtual-service-ratings-test-abort.yaml');
    await eventually('jason sees ratings unavailable', async () => JSON.stringify((await reviews(1, 'jason'))[0]?.rating) === JSON.stringify({ error: 'Ratings service is currently unavailable' }));
  });

  it('kubectl rollout restart deployment/reviews-v1 under fortio at 100 rps: no request fails', { skip: fortioMissing }, async () => {
    await apply('virtual-service-all-v1.yaml');
    await eventually('only v1', async () => (await versions(6)) === 'v1');
    const productpage = JSON.parse((await kubectl(['get', 'pods', '-l', 'app=productpage', '-o', 'json'])).stdout).items[0] as Obj;
    const ip = (await kubectl(['get', 'svc', 'reviews', '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
    const old = JSON.parse((await kubectl(['get', 'pods', '-l', 'app=reviews,version=v1', '-o', 'json'])).stdout).items as Obj[];
    assert.equal(old.length, 1);
    // fortio in productpage's network namespace: its calls to reviews' ClusterIP are captured by
    // productpage's sidecar, as productpage's own are.
    const report = join(state, 'fortio.json');
    const fortio = spawn('ip', ['netns', 'exec', `${prefix}-default.${productpage.metadata.name}`, FORTIO!, 'load', '-qps', '100', '-c', '4', '-t', '0', '-json', report, '-logger-json=false', `http://${ip}:9080/reviews/0`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let fortioErr = '';
    fortio.stderr!.on('data', (c) => (fortioErr = (fortioErr + c).slice(-4000)));
    const fortioExit = new Promise<number | null>((resolve) => fortio.once('exit', resolve));
    try {
      await eventually('fortio running', async () => /Starting at 100 qps/.test(fortioErr), 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await kubectl(['rollout', 'restart', 'deployment/reviews-v1'])).code, 0);
      const status = await kubectl(['rollout', 'status', 'deployment/reviews-v1', '--timeout=300s']);
      assert.equal(status.code, 0, status.stderr);
      // The old pod's graceful termination over, and traffic on the new one for a while.
      await eventually('the old reviews-v1 pod gone', async () => (await kubectl(['get', 'pod', old[0]!.metadata.name])).code !== 0, 120_000);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      fortio.kill('SIGINT');
    }
    assert.equal(await fortioExit, 0, fortioErr);
    const result = JSON.parse(readFileSync(report, 'utf8')) as { RetCodes: Record<string, number>; ActualQPS: number };
    const calls = Object.values(result.RetCodes).reduce((a, b) => a + b, 0);
    process.stderr.write(`rollout restart under fortio: ${JSON.stringify(result.RetCodes)} at ${result.ActualQPS.toFixed(1)} qps\n`);
    if (Object.keys(result.RetCodes).join() !== '200') {
      // which hop failed: productpage's sidecar's counters for reviews (none_healthy, connect_fail, reset, ...)
      const stats = await kubectl(['exec', productpage.metadata.name, '-c', 'istio-proxy', '--', 'curl', '-s', 'localhost:15000/stats']);
      const counters = stats.stdout.split('\n').filter((l) => l.includes('reviews') && !/: 0$/.test(l)).join('\n');
      assert.fail(`${JSON.stringify(result.RetCodes)}\nproductpage's sidecar, reviews counters:\n${counters || stats.stderr}\n${fortioErr.slice(-1500)}`);
    }
    assert.ok(calls >= 300, `${calls} calls`);
  });

  it('a pod with an image-only container: kubectl describe pod says why it waits', async () => {
    const r = await kubectl(['run', 'image-only', '--image=docker.io/library/nginx:1.27', '--restart=Never']);
    assert.equal(r.code, 0, r.stderr);
    // The waiting state and the Failed event are written apart: wait for both.
    const described = await eventually('ImageNotRunnable in kubectl describe pod', async () => {
      const d = (await kubectl(['describe', 'pod', 'image-only'])).stdout;
      return /State:\s+Waiting\s+Reason:\s+ImageNotRunnable/.test(d) && /Warning\s+Failed\s/.test(d) ? d : undefined;
    });
    assert.match(described, /Warning\s+Failed\s.*has no command: mizzen node runs commands on this machine, not container images/);
    assert.match(described, /istio-proxy:[\s\S]*State:\s+Running/, 'the injected sidecar runs beside it');
    assert.equal((await kubectl(['delete', 'pod', 'image-only', '--wait=false'])).code, 0);
  });

  it('PeerAuthentication STRICT with kubectl: a pod of a namespace without injection is refused, in-mesh traffic works', { skip: samplesMissing }, async () => {
    // Istio's mTLS migration task: curl in `legacy` (no injection) and in `bye` (injected).
    const curl = existsSync(join(SAMPLES, 'curl/curl.yaml')) ? join(SAMPLES, 'curl/curl.yaml') : join(SAMPLES, 'sleep/sleep.yaml');
    const app = curl.includes('curl.yaml') ? 'curl' : 'sleep';
    for (const args of [['create', 'namespace', 'legacy'], ['create', 'namespace', 'bye'], ['label', 'namespace', 'bye', 'istio-injection=enabled'], ['apply', '-n', 'legacy', '-f', curl], ['apply', '-n', 'bye', '-f', curl]]) {
      const r = await kubectl(args);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    }
    const from = async (ns: string): Promise<string> => (await kubectl(['exec', '-n', ns, `deploy/${app}`, '-c', app, '--', 'curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://productpage.default:9080/productpage'])).stdout;
    await eventually('legacy (1/1) and bye (2/2) reach productpage', async () => (await from('legacy')) === '200' && (await from('bye')) === '200', 180_000);
    // Its sidecar's readiness reaches the pod status a little after it first serves.
    await eventually('curl in bye 2/2 Running', async () => /\s2\/2\s+Running\s/.test((await kubectl(['get', 'pods', '-n', 'bye', '--no-headers'])).stdout), 60_000);
    const strict = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = execFile(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], (err, _o, stderr) => resolve({ code: err ? 1 : 0, err: stderr }));
      p.stdin!.end('apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: istio-system\nspec:\n  mtls:\n    mode: STRICT\n');
    });
    assert.equal(strict.code, 0, strict.err);
    await eventually('plaintext from legacy refused', async () => (await from('legacy')) !== '200');
    assert.equal(await from('bye'), '200', 'in-mesh traffic from another namespace keeps working');
    assert.equal((await reviews(1))[0]?.v, 'v1', 'and inside default');
  });

  it('kubectl delete namespace stops its pods: no process or network namespace left; default may not be deleted', { skip: samplesMissing }, async () => {
    const ours = async (): Promise<string[]> => (await runHostCommand('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-bye.`) || n.startsWith(`${prefix}-legacy.`));
    const netns = await ours();
    assert.equal(netns.length, 2, netns.join(' '));
    const pids = (await Promise.all(netns.map(async (n) => (await runHostCommand('ip', ['netns', 'pids', n])).stdout.split('\n').filter(Boolean).map(Number)))).flat();
    assert.ok(pids.length >= 3, `curl in both, the sidecar in bye: ${pids.join(' ')}`);
    const del = await kubectl(['delete', 'namespace', 'bye', 'legacy', '--wait=true', '--timeout=180s']);
    assert.equal(del.code, 0, del.stderr);
    // Istio's curl sample has terminationGracePeriodSeconds: 0, so the API server removes its pods
    // (and then the namespace) at once; the node stops them afterwards, as the kubelet does.
    await eventually('their network namespaces removed', async () => (await ours()).length === 0, 60_000);
    const alive = (): number[] => pids.filter((pid) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    await eventually('no process of their pods left', async () => alive().length === 0, 30_000).catch(() => assert.deepEqual(alive(), [], 'no process of their pods left'));
    // The issue's `kubectl delete namespace default`: Kubernetes itself refuses it.
    const refused = await kubectl(['delete', 'namespace', 'default']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /namespaces "default" is forbidden: this namespace may not be deleted/);
  });

  it('mizzen down stops the node and the cluster and leaves nothing', async () => {
    down = await cli(['down', '--state-dir', state], REPO);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(prefix, 'the node wrote its state');
    const netns = (await runHostCommand('ip', ['netns', 'list'])).stdout;
    assert.equal(netns.split('\n').filter((l) => l.startsWith(`${prefix}-`)).length, 0, netns);
    assert.ok(clusterPids.length === 4, 'the cluster components ran');
    for (const pid of clusterPids) {
      // Gone, or a zombie waiting for init to reap it (its parent, `mizzen up -d`, has exited).
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      assert.ok(stat === '' || /^\d+ \(.*\) Z /.test(stat), `cluster process ${pid} stopped: ${stat}`);
    }
    assert.equal(existsSync(join(state, 'cluster')), false);
    assert.equal(existsSync(kubeconfig), false);
    await assert.rejects(fetch(`http://127.0.0.1:${exposePort}/productpage`), 'the forwarded port is closed');
  });
});
