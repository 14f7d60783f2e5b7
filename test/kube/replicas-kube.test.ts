import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { AdsTestClient, sidecarNode } from '../xds/support/ads-test-client.ts';
import { envoyRoot } from '../xds/support/ads-harness.ts';
import { eventually, kubeSkipReason, startTestCluster, type TestCluster } from './support/kube-cluster.ts';

const MIZZEN = fileURLToPath(new URL('../../bin/mizzen.js', import.meta.url));
const skip = kubeSkipReason();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Replica {
  name: string;
  child: ChildProcess;
  grpc: string;
  log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `mizzen discovery --kubeconfig` as a replica (its own ports, POD_NAME, a 3 s lease). */
async function replica(name: string, kubeconfig: string, waitReady = true): Promise<Replica> {
  const [grpc, secure, http, webhook] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [MIZZEN, 'discovery', '--kubeconfig', kubeconfig, '--grpc-addr', `127.0.0.1:${grpc}`, '--secure-grpc-addr', `127.0.0.1:${secure}`, '--http-addr', `127.0.0.1:${http}`, '--webhook-addr', `127.0.0.1:${webhook}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // TMPDIR in the cluster's directory: a SIGKILLed replica cannot remove its temporary CA
    // directory (a CA key in it), so it goes where the cluster's teardown removes it
    env: { ...process.env, TMPDIR: dirname(kubeconfig), POD_NAME: name, POD_NAMESPACE: 'istio-system', MIZZEN_LEASE_DURATION: '3s', MIZZEN_LOG: 'info' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const r: Replica = {
    name,
    child,
    grpc: `127.0.0.1:${grpc}`,
    log: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill(signal);
      }),
  };
  if (waitReady) await eventually(() => (child.exitCode !== null ? Promise.reject(new Error(`exited: ${out}`)) : out.includes('mizzen discovery: xDS')), 60_000, `${name} ready`);
  return r;
}

async function clusterOf(r: Replica, host: string): Promise<boolean> {
  const c = new AdsTestClient(envoyRoot(), r.grpc, 'sotw');
  try {
    c.send({ node: sidecarNode('client', 'default'), typeUrl: TYPE_URL.cluster, resourceNames: [] });
    const res = await c.next(10_000);
    return (c.decode(res) as { name?: string }[]).some((x) => x.name === `outbound|80||${host}`);
  } finally {
    c.close();
  }
}

describe('discovery replicas and failures against a real API server', { skip }, () => {
  let cluster: TestCluster;
  const replicas: Replica[] = [];

  before(async () => {
    cluster = await startTestCluster({ controllers: false });
    await cluster.kubectl(['create', 'namespace', 'istio-system']);
    await cluster.kubectl(['create', 'service', 'clusterip', 'before', '--tcp=80:8080', '-n', 'default']);
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await cluster?.stop();
  });

  it('says which API server it cannot reach, and keeps retrying', async () => {
    const dead = await freePort();
    const cfg = readFileSync(cluster.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${dead}`);
    const file = join(cluster.dir, 'dead.kubeconfig');
    writeFileSync(file, cfg);
    const r = await replica('unreachable', file, false);
    replicas.push(r);
    await eventually(() => /cannot reach the API server to list\/watch .*ECONNREFUSED.*retrying/.test(r.log()), 30_000, 'the unreachable message');
    assert.equal(r.child.exitCode, null, 'still running');
    await r.stop();
    assert.equal(r.child.signalCode, null, 'SIGTERM while waiting for the API server ends discovery cleanly');
  });

  it('names the RBAC permission it lacks', async () => {
    await cluster.kubectl(['create', 'serviceaccount', 'nobody', '-n', 'default']);
    const token = (await cluster.kubectl(['create', 'token', 'nobody', '-n', 'default'])).trim();
    const cfg = readFileSync(cluster.kubeconfig, 'utf8').replace(/users:[\s\S]*?contexts:/, `users:\n- name: admin\n  user:\n    token: ${token}\ncontexts:`);
    const file = join(cluster.dir, 'nobody.kubeconfig');
    writeFileSync(file, cfg);
    const r = await replica('norbac', file, false);
    replicas.push(r);
    await eventually(() => /RBAC forbids listing\/watching \w+ .*system:serviceaccount:default:nobody.*retrying/.test(r.log()), 30_000, 'the RBAC message');
    await r.stop();
  });

  it('runs two replicas: both serve, one leads; killing the leader moves the Lease and clients reconnect to the other', async () => {
    const a = await replica('replica-a', cluster.kubeconfig);
    const b = await replica('replica-b', cluster.kubeconfig);
    replicas.push(a, b);
    const host = 'before.default.svc.cluster.local';
    assert.ok(await clusterOf(a, host));
    assert.ok(await clusterOf(b, host));
    const holder = (): Promise<string> => cluster.kubectl(['get', 'lease', 'istio-namespace-controller-election', '-n', 'istio-system', '-o', 'jsonpath={.spec.holderIdentity}']);
    const leaderName = await eventually(async () => {
      const h = await holder();
      return h === 'replica-a' || h === 'replica-b' ? h : undefined;
    }, 20_000, 'a leader');
    const [leader, follower] = leaderName === 'replica-a' ? [a, b] : [b, a];
    const watching = new AdsTestClient(envoyRoot(), leader.grpc, 'sotw');
    watching.send({ node: sidecarNode('client', 'default'), typeUrl: TYPE_URL.cluster, resourceNames: [] });
    await watching.next(10_000);
    const t0 = Date.now();
    await leader.stop('SIGKILL');
    const status = await watching.waitStatus();
    assert.notEqual(status.code, 0, 'the stream to the killed replica ends');
    watching.close();
    await eventually(async () => ((await holder()) === follower.name ? true : undefined), 20_000, 'the lease to move');
    const moved = Date.now() - t0;
    assert.ok(moved < 3000 * 3, `lease moved after ${moved} ms (duration 3 s)`);
    // the follower is now the writer: a new namespace gets its istio-ca-root-cert from it
    await cluster.kubectl(['create', 'namespace', 'after-failover']);
    await eventually(() => cluster.kubectl(['get', 'configmap', 'istio-ca-root-cert', '-n', 'after-failover']).then(() => true), 20_000, 'istio-ca-root-cert from the new leader');
    assert.ok(await clusterOf(follower, host), 'clients reconnect to the other replica');
  });

  it('keeps serving what it has while the API server is down', async () => {
    const r = replicas.find((x) => x.child.exitCode === null && x.child.signalCode === null && x.name.startsWith('replica'))!;
    const pid = Number(readFileSync(join(cluster.dir, 'kube-apiserver.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await eventually(() => /cannot reach the API server/i.test(r.log().slice(-20_000)), 60_000, 'the replica to notice');
    assert.ok(await clusterOf(r, 'before.default.svc.cluster.local'), 'what was served is still served');
    assert.equal(r.child.exitCode, null, 'discovery keeps running and retrying');
  });

  it('catches up once the API server is back: watches re-established, a change reaches an ADS client that stayed connected', async () => {
    const r = replicas.find((x) => x.child.exitCode === null && x.child.signalCode === null && x.name.startsWith('replica'))!;
    // connected while the API server is still down (the previous test killed it)
    const watching = new AdsTestClient(envoyRoot(), r.grpc, 'sotw');
    const node = sidecarNode('client', 'default');
    watching.send({ node, typeUrl: TYPE_URL.cluster, resourceNames: [] });
    const first = await watching.next(10_000);
    watching.send({ node, typeUrl: TYPE_URL.cluster, resourceNames: [], versionInfo: first.versionInfo, responseNonce: first.nonce });
    await cluster.startAgain();
    await cluster.kubectl(['create', 'service', 'clusterip', 'after-restart', '--tcp=80:8080', '-n', 'default']);
    await cluster.kubectl(['delete', 'service', 'before', '-n', 'default']);
    const names = await eventually(async () => {
      const res = await watching.next(60_000);
      watching.send({ node, typeUrl: TYPE_URL.cluster, resourceNames: [], versionInfo: res.versionInfo, responseNonce: res.nonce });
      const n = (watching.decode(res) as { name?: string }[]).map((c) => c.name);
      return n.includes('outbound|80||after-restart.default.svc.cluster.local') && !n.includes('outbound|80||before.default.svc.cluster.local') ? n : undefined;
    }, 90_000, 'the Service created (and the one deleted) after the restart, pushed on the open stream');
    assert.ok(names.length > 0);
    watching.close();
  });
});
