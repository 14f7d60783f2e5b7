import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { AdsTestClient, sidecarNode } from '../xds/support/ads-test-client.ts';
import { envoyRoot } from '../xds/support/ads-harness.ts';
import { eventually, kubeSkipReason, startTestCluster, type TestCluster } from './support/kube-cluster.ts';

/**
 * `mizzen proxy-status` / `proxy-config` reach discovery as istioctl does: through the API
 * server, to the discovery pod's debug port, with the user's kubeconfig. Discovery runs here as
 * a process in --kube mode and a Pod object stands for it (no kubelet runs). The API server
 * refuses to proxy to loopback pod IPs (only global unicast addresses), so the test gives the
 * pod an address from 198.18.0.0/15 (benchmarking range, used by nothing else here) on a veth
 * pair of its own in the root namespace (no dummy links in this kernel); packets to a local
 * address never leave the machine.
 */
const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));
const skip = kubeSkipReason() ?? (process.getuid?.() === 0 ? undefined : 'needs root (a veth link for the pod address)');

async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function mizzen(args: string[], o: { cwd: string; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MIZZEN, ...args], { cwd: o.cwd, env: { ...process.env, KUBECONFIG: '', HOME: o.cwd, ...o.env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const ip = (args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};

describe('proxy-status and proxy-config through the API server', { skip }, () => {
  let cluster: TestCluster;
  let discovery: ChildProcess | undefined;
  let out = '';
  let grpc = '';
  let httpPort = 0;
  const link = `mzk${process.pid.toString(36)}`.slice(0, 14);
  const podIp = `198.18.${1 + (process.pid % 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const cwd = mkdtempSync(join(tmpdir(), 'mizzen-ps-kube-'));
  let client: AdsTestClient | undefined;

  before(async () => {
    cluster = await startTestCluster({ controllers: false });
    ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
    ip(['addr', 'add', `${podIp}/32`, 'dev', link]);
    ip(['link', 'set', `${link}p`, 'up']);
    ip(['link', 'set', link, 'up']);
    await cluster.kubectl(['create', 'namespace', 'istio-system']);
    const [g, s, w] = [await freePort(), await freePort(), await freePort()];
    const http = (httpPort = await freePort(podIp));
    grpc = `127.0.0.1:${g}`;
    discovery = spawn(process.execPath, [MIZZEN, 'discovery', '--kubeconfig', cluster.kubeconfig, '--grpc-addr', grpc, '--secure-grpc-addr', `127.0.0.1:${s}`, '--http-addr', `${podIp}:${http}`, '--webhook-addr', `127.0.0.1:${w}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POD_NAME: 'istiod-7c9f-x2x', POD_NAMESPACE: 'istio-system', MIZZEN_LOG: 'info' },
    });
    discovery.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    discovery.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => (discovery!.exitCode !== null ? Promise.reject(new Error(`discovery exited: ${out}`)) : out.includes('mizzen discovery: xDS')), 60_000, 'discovery ready');
    // The Pod a Deployment of `mizzen install` would make, with the status a kubelet would write.
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'istiod-7c9f-x2x', namespace: 'istio-system', labels: { app: 'istiod', 'istio.io/rev': 'default' }, annotations: { 'prometheus.io/port': String(http) } },
      spec: { containers: [{ name: 'discovery', image: 'mizzen', ports: [{ containerPort: http }] }] },
    }));
    await cluster.kubectl(['patch', 'pod', 'istiod-7c9f-x2x', '-n', 'istio-system', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: podIp, podIPs: [{ ip: podIp }] } })]);
    await cluster.kubectl(['create', 'service', 'clusterip', 'reviews', '--tcp=9080:9080', '-n', 'default']);
    client = new AdsTestClient(envoyRoot(), grpc, 'sotw');
    client.send({ node: sidecarNode('productpage-v1-5c9b-abcde', 'default'), typeUrl: TYPE_URL.cluster, resourceNames: [] });
    await eventually(async () => {
      const r = await client!.next(10_000);
      client!.send({ node: sidecarNode('productpage-v1-5c9b-abcde', 'default'), typeUrl: TYPE_URL.cluster, resourceNames: [], versionInfo: r.versionInfo, responseNonce: r.nonce });
      return (client!.decode(r) as { name?: string }[]).some((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local');
    }, 20_000, 'the Service from the API server in CDS');
  });

  after(async () => {
    client?.close();
    if (discovery && discovery.exitCode === null && discovery.signalCode === null) {
      const d = discovery;
      await new Promise<void>((resolve) => {
        d.once('exit', () => resolve());
        d.kill('SIGTERM');
        setTimeout(() => d.kill('SIGKILL'), 15_000).unref();
      });
    }
    spawnSync('ip', ['link', 'del', link]);
    await cluster?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('proxy-status --kubeconfig lists the connected proxy, named by the discovery pod that serves it', async () => {
    const r = await mizzen(['proxy-status', '--kubeconfig', cluster.kubeconfig], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ISTIOD\s+VERSION/);
    const row = lines.find((l) => l.startsWith('productpage-v1-5c9b-abcde.default '));
    assert.ok(row, r.stdout);
    assert.match(row, /\sSYNCED\s/);
    assert.match(row, /\sistiod-7c9f-x2x\s/);
  });

  it('uses $KUBECONFIG and --context as istioctl does', async () => {
    const r = await mizzen(['proxy-status', '-o', 'json', '--context', 'mizzen'], { cwd, env: { KUBECONFIG: cluster.kubeconfig } });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { name: string; controlPlane: string }[];
    assert.deepEqual(rows.map((x) => [x.name, x.controlPlane]), [['productpage-v1-5c9b-abcde.default', 'istiod-7c9f-x2x']]);
    const bad = await mizzen(['proxy-status', '--kubeconfig', cluster.kubeconfig, '--context', 'nope'], { cwd });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has no context "nope" \(it has: mizzen\)/);
  });

  it('proxy-config reads what discovery sent the proxy through the API server', async () => {
    const r = await mizzen(['proxy-config', 'clusters', 'productpage-v1-5c9b-abcde.default', '--kubeconfig', cluster.kubeconfig], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^reviews\.default\.svc\.cluster\.local\s+9080\s+-\s+outbound\s+EDS/m);
    const missing = await mizzen(['proxy-config', 'clusters', 'nothere.default', '--kubeconfig', cluster.kubeconfig], { cwd });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /proxy nothere\.default is not connected/);
  });

  it('says when no discovery pod runs, or the API server cannot reach it', async () => {
    const none = await mizzen(['proxy-status', '--kubeconfig', cluster.kubeconfig, '-i', 'elsewhere'], { cwd });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no running discovery pod \(label app=istiod\) in namespace elsewhere of the cluster at https:\/\/127\.0\.0\.1:\d+/);
    const canary = await mizzen(['proxy-status', '--kubeconfig', cluster.kubeconfig, '--revision', 'canary'], { cwd });
    assert.match(canary.stderr, /no running discovery pod \(label app=istiod,istio\.io\/rev=canary\)/);
    // a pod whose debug port nobody listens on
    const dead = await freePort(podIp);
    await cluster.kubectl(['annotate', 'pod', 'istiod-7c9f-x2x', '-n', 'istio-system', '--overwrite', `prometheus.io/port=${dead}`]);
    try {
      const r = await mizzen(['proxy-status', '--kubeconfig', cluster.kubeconfig], { cwd });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`the API server at https://127\\.0\\.0\\.1:\\d+ could not reach discovery pod istiod-7c9f-x2x\\.istio-system:${dead}: .*connection refused`));
    } finally {
      await cluster.kubectl(['annotate', 'pod', 'istiod-7c9f-x2x', '-n', 'istio-system', '--overwrite', `prometheus.io/port=${httpPort}`]);
    }
  });
});
