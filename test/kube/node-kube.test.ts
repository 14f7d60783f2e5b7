import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runHostCommand } from '../../src/runtime/host-command.ts';
import { CLI_ENTRY, rootSkipReason } from '../runtime/netns-test-support.ts';
import { eventually, kubeBinDir, kubeSkipReason, startTestCluster, TEST_CLUSTER_CIDRS, type TestCluster } from './support/kube-cluster.ts';

/**
 * `mizzen node` against a real control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler from scripts/kube-cluster.sh): the real scheduler binds pods to it, the real
 * controllers make ReplicaSets and EndpointSlices, `mizzen install` runs discovery as a pod on it,
 * the real API server's injection webhook call adds istio-proxy, and kubectl reads the results.
 */
const skip = kubeSkipReason() ?? (await rootSkipReason()) ?? undefined;

type Obj = Record<string, any>;

const yaml = (s: string): string => s.replace(/^ {4}/gm, '');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function httpGet(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host, port, path, timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error('timeout'));
      })
      .on('error', reject)
      .end();
  });
}

const ECHO = yaml(`
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: echo}
    spec:
      replicas: 1
      selector: {matchLabels: {app: echo}}
      template:
        metadata: {labels: {app: echo}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: echo
            image: node
            command: ["node", "-e", "require('http').createServer((q, s) => s.end('hi from ' + process.env.HOSTNAME + '\\\\n')).listen(8080, () => console.log('echo listening on 8080'))"]
            ports: [{containerPort: 8080}]
            readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: echo}
    spec:
      selector: {app: echo}
      ports: [{name: http, port: 80, targetPort: 8080}]
`);

// Asks echo through its Service name every 300 ms and prints status, server header and body.
const CLIENT = yaml(`
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: client}
    spec:
      replicas: 1
      selector: {matchLabels: {app: client}}
      template:
        metadata: {labels: {app: client}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: client
            image: node
            command: ["node", "-e", "setInterval(async () => { try { const r = await fetch('http://echo.default.svc.cluster.local/'); console.log('status=' + r.status, 'server=' + r.headers.get('server'), (await r.text()).trim()) } catch (e) { console.log('error', e.cause?.code ?? e.message) } }, 300)"]
`);

describe('mizzen node: a real cluster schedules pods to it', { skip, timeout: 600_000 }, () => {
  let cluster: TestCluster;
  let node: RunningNode | undefined;
  let second: RunningNode | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mizzen-node-'));
  const name = `mizzen-node-${Math.random().toString(36).slice(2, 8)}`;
  let prefix = '';
  let podCidr = '';
  const json = async (args: string[]): Promise<Obj> => JSON.parse(await cluster.kubectl([...args, '-o', 'json'])) as Obj;
  const podReady = (p: Obj): boolean => p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
  const readyPod = (selector: string, what: string, ms = 120_000, namespace = 'default'): Promise<Obj> =>
    eventually(async () => ((await json(['-n', namespace, 'get', 'pods', '-l', selector])).items as Obj[]).find((p) => podReady(p) && !p.metadata.deletionTimestamp), ms, what);

  interface RunningNode {
    name: string;
    proc: ChildProcess;
    exit: Promise<number | null>;
    log: string;
    prefix: string;
    podCidr: string;
  }

  /** `kubectl port-forward pod/NAME :PORT` until it listens; its local port. */
  async function portForward(pod: string, port: number, env: Record<string, string> = {}): Promise<{ port: number; output(): string; stop(): void }> {
    const pf = spawn(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, 'port-forward', `pod/${pod}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    pf.stdout.on('data', (c) => (out += c));
    pf.stderr.on('data', (c) => (out += c));
    const stop = (): void => void pf.kill('SIGKILL');
    try {
      const local = await eventually(() => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1], 30_000, `kubectl port-forward listening (${out})`);
      return { port: Number(local), output: () => out, stop };
    } catch (err) {
      stop();
      throw err;
    }
  }

  /** `mizzen node` as a user starts it, until its Node is Ready. */
  async function startNode(nodeName: string): Promise<RunningNode> {
    const kubeletPort = await freePort();
    const log = join(dir, `${nodeName}.log`);
    const state = join(dir, nodeName);
    const proc = spawn(process.execPath, [CLI_ENTRY, 'node', '--kubeconfig', cluster.kubeconfig, '--name', nodeName, '--state-dir', state, '--kubelet-port', String(kubeletPort), '--cluster-cidr', '10.244.0.0/16'], {
      stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
      env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_TEST_LOG ?? 'info' },
    });
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    await eventually(async () => {
      const n = await json(['get', 'node', nodeName]).catch(() => undefined);
      return n?.status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True');
    }, 120_000, `node ${nodeName} Ready (log: ${log})`);
    const prefix = String((JSON.parse(readFileSync(join(state, 'node.json'), 'utf8')) as Obj).prefix);
    return { name: nodeName, proc, exit, log, prefix, podCidr: String((await json(['get', 'node', nodeName])).spec.podCIDR) };
  }

  /** SIGTERM; it exits 0 and leaves nothing: namespaces, its root-namespace link, rules, pod CIDR route. */
  async function stopNode(n: RunningNode): Promise<void> {
    if (n.proc.exitCode === null) {
      n.proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([n.exit, new Promise((r) => (timer = setTimeout(() => r('timeout'), 90_000)))]);
      clearTimeout(timer);
      if (code === 'timeout') n.proc.kill('SIGKILL');
      assert.equal(code, 0, `mizzen node ${n.name} exits 0 on SIGTERM (log: ${readFileSync(n.log, 'utf8').slice(-2000)})`);
    }
    const netns = (await runHostCommand('ip', ['netns', 'list'])).stdout;
    assert.equal(netns.split('\n').filter((l) => l.startsWith(`${n.prefix}-`)).length, 0, `no namespace of ${n.prefix} left: ${netns}`);
    assert.doesNotMatch((await runHostCommand('ip', ['link', 'show'])).stdout, new RegExp(`${n.prefix}h\\b`));
    assert.doesNotMatch((await runHostCommand('ip', ['rule', 'show'])).stdout, new RegExp(`${n.prefix}h\\b`));
    assert.equal((await runHostCommand('ip', ['route', 'show', 'exact', n.podCidr])).stdout.trim(), '');
  }

  before(async () => {
    // A /20 of its own inside 10.244.0.0/16: its nodes' /24s are routed from the root namespace.
    const cidr = TEST_CLUSTER_CIDRS.nodeKube;
    cluster = await startTestCluster({ clusterCidr: cidr });
    node = await startNode(name);
    prefix = node.prefix;
    podCidr = node.podCidr;
  });

  after(async () => {
    const t0 = Date.now();
    try {
      for (const n of [second, node]) if (n) await stopNode(n);
      process.stderr.write(`# mizzen nodes stopped and cleaned up in ${Date.now() - t0} ms\n`);
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers a Ready Node with its pod CIDR, address and a lease it renews', async () => {
    const n = await json(['get', 'node', name]);
    assert.match(podCidr, /^10\.244\.\d+\.0\/24$/);
    const internal = (n.status.addresses as Obj[]).find((a) => a.type === 'InternalIP');
    assert.ok(internal, 'an InternalIP');
    assert.equal(n.status.nodeInfo.operatingSystem, 'linux');
    assert.ok(Number(n.status.capacity.pods) > 0);
    const lease = await json(['-n', 'kube-node-lease', 'get', 'lease', name]);
    assert.equal(lease.spec.holderIdentity, name);
    const first = lease.spec.renewTime;
    await eventually(async () => (await json(['-n', 'kube-node-lease', 'get', 'lease', name])).spec.renewTime !== first, 30_000, 'the lease renewed');
  });

  it('runs a Deployment: the pod is Running and Ready at its pod IP, kubectl logs shows its output', async () => {
    await cluster.kubectl(['apply', '-f', '-'], ECHO);
    const pod = await readyPod('app=echo', 'echo Running and Ready');
    assert.equal(pod.spec.nodeName, name, 'bound by the real scheduler');
    assert.ok(pod.status.podIP.startsWith(podCidr.split('.').slice(0, 3).join('.')), `pod IP ${pod.status.podIP} from ${podCidr}`);
    const cs = pod.status.containerStatuses as Obj[];
    assert.equal(cs.length, 1);
    assert.ok(cs[0].ready && cs[0].state.running);
    const got = await httpGet(pod.status.podIP, 8080, '/');
    assert.equal(got.body, `hi from ${pod.metadata.name}\n`);
    const logs = await eventually(() => cluster.kubectl(['logs', pod.metadata.name]), 60_000, 'kubectl logs (the kubelet API starts once its certificate is signed)');
    assert.match(logs, /echo listening on 8080/);
    // The EndpointSlice controller saw the pod Ready.
    const slices = await json(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo']);
    assert.ok((slices.items as Obj[]).some((s) => (s.endpoints ?? []).some((e: Obj) => e.addresses.includes(pod.status.podIP) && e.conditions.ready)));
  });

  it('kubectl exec, port-forward and attach reach the pod through the kubelet API', async () => {
    const pod = await readyPod('app=echo', 'echo Running and Ready');
    const podName = String(pod.metadata.name);
    // exec (WebSocket v5 straight to the node: it declares ExtendWebSocketsToKubelet): stdout,
    // stderr and the exit code apart, in the container's environment and network namespace.
    const exec = await eventually(async () => {
      const r = await cluster.kubectlResult(['exec', podName, '--', 'sh', '-c', 'echo out $HOSTNAME $(id -u); echo err >&2; exit 3']);
      return r.stderr.includes('err') && r;
    }, 60_000, 'kubectl exec (the kubelet API starts once its certificate is signed)');
    assert.equal(exec.code, 3, exec.stderr);
    assert.equal(exec.stdout, `out ${podName} 0\n`);
    assert.match(exec.stderr, /^err$/m);
    assert.match(exec.stderr, /command terminated with exit code 3/);
    // stdin, closed by the client at its end (v5 close signal), and the pod's own loopback.
    const cat = await cluster.kubectlResult(['exec', '-i', podName, '--', 'sh', '-c', "cat; node -e \"fetch('http://127.0.0.1:8080/').then(async (r) => console.log(r.status, await r.text()))\""], 'from stdin\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, `from stdin\n200 hi from ${podName}\n\n`);
    // -it: a terminal of its own (kubectl needs one on its side too: script(1) gives it one),
    // sized from kubectl's resize channel.
    const kubectl = `${join(kubeBinDir()!, 'kubectl')} --kubeconfig ${cluster.kubeconfig}`;
    const tty = await runHostCommand('script', ['-qec', `stty cols 91 rows 33; ${kubectl} exec -it ${podName} -- sh`, '/dev/null'], { input: 'tty; stty size; exit 7\n', allowFailure: true });
    assert.equal(tty.code, 7, tty.stdout + tty.stderr);
    // (the shell's prompt may come before an output line: the input is typed ahead)
    assert.match(tty.stdout, /(?:^|# )\/dev\/pts\/\d+\r?$/m);
    assert.match(tty.stdout, /(?:^|# )33 91\r?$/m);
    const missing = await cluster.kubectlResult(['exec', podName, '--', 'no-such-program-here']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no-such-program-here: executable file not found/);

    // port-forward over kubectl's WebSocket tunnel and over plain SPDY (the fallback).
    for (const websockets of ['true', 'false']) {
      const pf = await portForward(podName, 8080, { KUBECTL_PORT_FORWARD_WEBSOCKETS: websockets });
      try {
        for (let i = 0; i < 3; i++) assert.equal((await httpGet('127.0.0.1', pf.port, '/')).body, `hi from ${podName}\n`, `through port-forward (websockets=${websockets})`);
      } finally {
        pf.stop();
      }
    }
    // A port nothing listens on: kubectl reports the node's error for that connection.
    const closed = await portForward(podName, 9);
    try {
      await assert.rejects(httpGet('127.0.0.1', closed.port, '/'));
      await eventually(() => /error forwarding port 9 to pod default\/echo-[^:]*: failed to connect to localhost:9 inside the pod's network namespace/.test(closed.output()), 30_000, 'the error on the error stream');
    } finally {
      closed.stop();
    }

    // attach streams the container's output from now on.
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Pod
    metadata: {name: ticker, labels: {app: ticker}}
    spec: {terminationGracePeriodSeconds: 1, containers: [{name: app, image: node, command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]}]}
    `));
    await readyPod('app=ticker', 'ticker Running', 60_000);
    await eventually(async () => /tick 3\n/.test(await cluster.kubectl(['logs', 'ticker'])), 60_000, 'three ticks');
    const attach = spawn(join(kubeBinDir()!, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, 'attach', 'ticker'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let attached = '';
    attach.stdout.on('data', (c) => (attached += c));
    try {
      await eventually(() => /tick \d+\n[^]*tick \d+\n/.test(attached), 30_000, `two ticks through kubectl attach (got: ${attached})`);
      const first = Number(/tick (\d+)/.exec(attached)![1]);
      assert.ok(first > 1, 'attach starts at the current output, not the beginning');
      // logs --timestamps / --since / --since-time: lines timed when the node saw them.
      await eventually(async () => (await cluster.kubectl(['logs', 'ticker'])).split('\n').length > 25, 60_000, 'five seconds of ticks');
      const stamped = (await cluster.kubectl(['logs', 'ticker', '--timestamps', '--tail', '3'])).trim().split('\n');
      assert.equal(stamped.length, 3);
      for (const line of stamped) {
        const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) tick \d+$/.exec(line);
        assert.ok(m, line);
        assert.ok(Math.abs(Date.now() - Date.parse(m[1]!)) < 30_000, `${line}: a time of this run`);
      }
      const times = stamped.map((l) => Date.parse(l.split(' ')[0]!));
      assert.ok(times[0]! <= times[1]! && times[1]! <= times[2]!, 'in order');
      const all = (await cluster.kubectl(['logs', 'ticker'])).trim().split('\n').length;
      const recent = (await cluster.kubectl(['logs', 'ticker', '--since=2s'])).trim().split('\n');
      assert.ok(recent.length >= 1 && recent.length < all, `--since=2s: ${recent.length} of ${all} lines`);
      // sinceTime travels as a metav1.Time: whole seconds.
      const cut = new Date(Math.floor(times[0]! / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const since = (await cluster.kubectl(['logs', 'ticker', `--since-time=${cut}`, '--timestamps'])).trim().split('\n');
      assert.ok(since.every((l) => Date.parse(l.split(' ')[0]!) >= Date.parse(cut)), `--since-time=${cut} leaves out older lines: ${since[0]}`);
      const full = (await cluster.kubectl(['logs', 'ticker', '--timestamps'])).trim().split('\n');
      assert.ok(full.some((l) => Date.parse(l.split(' ')[0]!) < Date.parse(cut)), 'older lines exist');
      assert.ok(since.length < full.length);
    } finally {
      attach.kill('SIGKILL');
      await cluster.kubectl(['delete', 'pod', 'ticker', '--wait=false']);
    }
  });

  it('a container without a command waits with ImageNotRunnable and says why', async () => {
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Pod
    metadata: {name: image-only}
    spec: {terminationGracePeriodSeconds: 1, containers: [{name: app, image: docker.io/library/busybox}]}
    `));
    const waiting = await eventually(async () => {
      const w = (await json(['get', 'pod', 'image-only'])).status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason !== 'ContainerCreating' && w;
    }, 60_000, 'a waiting state other than ContainerCreating');
    assert.equal(waiting.reason, 'ImageNotRunnable');
    assert.match(waiting.message, /has no command: mizzen node runs commands on this machine, not container images/);
    const describe = await eventually(async () => {
      const d = await cluster.kubectl(['describe', 'pod', 'image-only']);
      return /ImageNotRunnable/.test(d) && d;
    }, 30_000, 'the Failed event');
    assert.match(describe, /busybox/);
    await cluster.kubectl(['delete', 'pod', 'image-only', '--wait=true', '--timeout=60s']);
  });

  it('kubectl delete namespace stops its pods: no process, namespace or nft table of theirs is left', async () => {
    await cluster.kubectl(['create', 'namespace', 'scratch']);
    await cluster.kubectl(['-n', 'scratch', 'apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Pod
    metadata: {name: sleeper, labels: {app: sleeper}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - {name: a, image: node, command: ["sleep", "600"]}
      - {name: b, image: node, command: ["sh", "-c", "trap 'echo term; exit 0' TERM; while true; do sleep 0.2; done"]}
    `));
    await readyPod('app=sleeper', 'sleeper Running', 60_000, 'scratch');
    const netns = `${prefix}-scratch.sleeper`;
    const pids = (await runHostCommand('ip', ['netns', 'pids', netns])).stdout.split('\n').filter(Boolean).map(Number);
    assert.ok(pids.length >= 2, `the containers' processes run in ${netns}: ${pids.join(' ')}`);
    await cluster.kubectl(['delete', 'namespace', 'scratch', '--wait=true', '--timeout=90s']);
    assert.doesNotMatch((await runHostCommand('ip', ['netns', 'list'])).stdout, new RegExp(`^${netns.replace(/\./g, '\\.')}\\b`, 'm'));
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, [], 'no process of the pod left');
  });

  it('gives containers their env, volumes, workingDir and user as the kubelet does; reports exits and restarts', async () => {
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {greeting: hello, color: blue}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds}
    stringData: {password: s3cret}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: env-check, labels: {tier: backend}}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      volumes:
      - {name: cfg, configMap: {name: settings}}
      - {name: sec, secret: {secretName: creds}}
      - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
      - {name: shared, emptyDir: {}}
      initContainers:
      - name: prepare
        image: busybox
        command: ["sh", "-c", "echo from-init > /var/lib/mizzen-test-shared/note"]
        volumeMounts: [{name: shared, mountPath: /var/lib/mizzen-test-shared}]
      containers:
      - name: check
        image: busybox
        workingDir: /tmp
        securityContext: {runAsUser: 1001, runAsGroup: 1001}
        command: ["sh", "-c"]
        args: ["echo uid=$(id -u) cwd=$(pwd) node=$NODE ip=$POD_IP greeting=$GREETING pw=$PW color=$color msg=$(MSG); cat /etc/settings/color /etc/creds/password /etc/info/labels /var/lib/mizzen-test-shared/note; echo"]
        env:
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
        - {name: PW, valueFrom: {secretKeyRef: {name: creds, key: password}}}
        - {name: MSG, value: "$(GREETING)-world"}
        envFrom: [{configMapRef: {name: settings}}]
        volumeMounts:
        - {name: cfg, mountPath: /etc/settings}
        - {name: sec, mountPath: /etc/creds}
        - {name: info, mountPath: /etc/info}
        - {name: shared, mountPath: /var/lib/mizzen-test-shared}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: crasher}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: app, image: busybox, command: ["sh", "-c", "echo run; exit 3"]}]
    `));
    const done = await eventually(async () => {
      const p = await json(['get', 'pod', 'env-check']);
      return ['Succeeded', 'Failed'].includes(p.status?.phase) && p;
    }, 90_000, 'env-check finished');
    const logs = await cluster.kubectl(['logs', 'env-check']);
    assert.equal(done.status.phase, 'Succeeded', logs);
    assert.equal(done.status.containerStatuses[0].state.terminated.exitCode, 0);
    assert.equal(done.status.initContainerStatuses[0].state.terminated.reason, 'Completed');
    assert.match(logs, new RegExp(`uid=1001 cwd=/tmp node=${name} ip=${done.status.podIP.replace(/\./g, '\\.')} greeting=hello pw=s3cret color=blue msg=hello-world`));
    assert.match(logs, /blue\s*s3cret\s*tier="backend"\s*from-init/);
    const crashed = await eventually(async () => {
      const c = (await json(['get', 'pod', 'crasher'])).status?.containerStatuses?.[0];
      return c?.restartCount >= 1 && c.lastState?.terminated?.exitCode === 3 && c;
    }, 90_000, 'crasher restarted with its exit code in lastState');
    assert.equal(crashed.lastState.terminated.reason, 'Error');
    assert.match(await cluster.kubectl(['logs', 'crasher']), /^run$/m);
    // Once restarted (the kubelet's first backoff is 10 s), the crashed run is `--previous`.
    const previous = await eventually(async () => {
      const r = await cluster.kubectlResult(['logs', 'crasher', '--previous']);
      return r.code === 0 && r.stdout;
    }, 60_000, 'kubectl logs --previous');
    assert.match(previous, /^run$/m);
    await cluster.kubectl(['delete', 'pod', 'env-check', 'crasher', '--wait=true', '--timeout=60s']);
  });

  it('with mizzen install, injected pods run 2/2 and reach each other through their sidecars', async () => {
    const install = spawn(process.execPath, [CLI_ENTRY, 'install', '--kubeconfig', cluster.kubeconfig, '--replicas', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let installErr = '';
    install.stderr!.on('data', (c) => (installErr += c));
    assert.equal(await new Promise((r) => install.once('exit', r)), 0, installErr);
    const istiod = await readyPod('app=istiod', 'discovery Running and Ready as a pod of the node', 180_000, 'istio-system').catch(async (err: Error) => {
      const logs = await cluster.kubectlResult(['-n', 'istio-system', 'logs', 'deploy/istiod', '--tail', '30']);
      throw new Error(`${err.message}\n${logs.stdout}${logs.stderr}`);
    });
    assert.equal(istiod.spec.nodeName, name);
    await cluster.kubectl(['label', 'namespace', 'default', 'istio-injection=enabled']);
    const old = await readyPod('app=echo', 'echo');
    await cluster.kubectl(['rollout', 'restart', 'deployment/echo']);
    const echo = await eventually(async () => {
      const p = await readyPod('app=echo', 'the restarted echo');
      return p.metadata.name !== old.metadata.name && (p.spec.containers as Obj[]).length === 2 && p;
    }, 180_000, 'echo replaced by an injected pod');
    // The webhook's istio-init ran first and completed; both containers ready: kubectl's 2/2.
    const init = (echo.status.initContainerStatuses as Obj[]).find((c) => c.name === 'istio-init');
    assert.equal(init?.state?.terminated?.exitCode, 0);
    const cs = echo.status.containerStatuses as Obj[];
    assert.deepEqual(cs.map((c) => [c.name, c.ready]).sort(), [['echo', true], ['istio-proxy', true]]);
    const table = await cluster.kubectl(['get', 'pod', echo.metadata.name, '--no-headers']);
    assert.match(table, /\s2\/2\s+Running\s/);
    // The replaced pod is gone, and its namespace with it.
    await eventually(async () => !(await runHostCommand('ip', ['netns', 'list'])).stdout.includes(`${prefix}-default.${old.metadata.name}`), 60_000, 'the old pod namespace removed');
    // Right after a pod's removal the API server still reaches discovery's webhook at its pod IP
    // (the node bridge's MAC must not change with its ports): a bare Pod is injected at once.
    await cluster.kubectl(['apply', '-f', '-'], yaml(`
    apiVersion: v1
    kind: Pod
    metadata: {name: bare}
    spec: {terminationGracePeriodSeconds: 1, containers: [{name: app, image: node, command: ["sleep", "600"]}]}
    `));
    assert.deepEqual(((await json(['get', 'pod', 'bare'])).spec.containers as Obj[]).map((c) => c.name), ['app', 'istio-proxy']);
    await cluster.kubectl(['delete', 'pod', 'bare', '--wait=false']);

    await cluster.kubectl(['apply', '-f', '-'], CLIENT);
    const client = await readyPod('app=client', 'client 2/2', 180_000);
    const lines = await eventually(async () => {
      const out = await cluster.kubectl(['logs', client.metadata.name, '-c', 'client', '--tail', '5']);
      return out.includes(`status=200 server=envoy hi from ${echo.metadata.name}`) && out;
    }, 60_000, 'client answered by echo through the sidecars');
    assert.ok(lines);
    const proxyLogs = await cluster.kubectl(['logs', client.metadata.name, '-c', 'istio-proxy']);
    assert.match(proxyLogs, /proxy started/);

    // Deleting a pod: graceful stop, the object goes, and so does its namespace.
    await cluster.kubectl(['delete', 'deployment', 'client']);
    await eventually(async () => ((await json(['get', 'pods', '-l', 'app=client'])).items as Obj[]).length === 0, 60_000, 'the client pod deleted');
    await eventually(async () => !(await runHostCommand('ip', ['netns', 'list'])).stdout.includes(`${prefix}-default.${client.metadata.name}`), 30_000, 'the client namespace removed');
  });
  it('a second node: its pods reach pods of the first node through the mesh, and it leaves nothing when stopped', async () => {
    second = await startNode(`${name}-b`);
    assert.notEqual(second.podCidr, podCidr, 'each node its own pod CIDR');
    const echo = await readyPod('app=echo', 'echo on the first node');
    await cluster.kubectl(['apply', '-f', '-'], CLIENT.replace('name: client}', 'name: client-b}').replace(/app: client/g, 'app: client-b').replace('terminationGracePeriodSeconds: 5', `terminationGracePeriodSeconds: 5\n      nodeSelector: {kubernetes.io/hostname: ${second.name}}`));
    const client = await readyPod('app=client-b', 'client-b 2/2 on the second node', 180_000);
    assert.equal(client.spec.nodeName, second.name);
    assert.ok(client.status.podIP.startsWith(second.podCidr.split('.').slice(0, 3).join('.')));
    // Its sidecar got config and a certificate from discovery on the first node, and reaches echo there.
    await eventually(async () => (await cluster.kubectl(['logs', client.metadata.name, '-c', 'client', '--tail', '5'])).includes(`status=200 server=envoy hi from ${echo.metadata.name}`), 60_000, 'client-b answered by echo across nodes');
    await cluster.kubectl(['delete', 'deployment', 'client-b']);
    await eventually(async () => ((await json(['get', 'pods', '-l', 'app=client-b'])).items as Obj[]).length === 0, 60_000, 'client-b deleted');
    const b = second;
    second = undefined;
    await stopNode(b);
  });
});
