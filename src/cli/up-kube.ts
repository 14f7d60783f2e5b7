import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import { KubeApi, loadKubeConfig } from '../lib/kube/kube-api.ts';
import { INGRESS_GATEWAY, ingressGatewayManifests } from '../runtime/ingress-gateway.ts';
import type { ExposeSpec } from '../runtime/port-forwarder.ts';
import type { CliContext } from './cli-context.ts';
import { anyFreePort, type KubeForward, localPortFree, startKubeForward, stopKubeForward } from './kube-forwards.ts';

type Obj = Record<string, any>;

/** What `mizzen up --kube` runs with. */
export interface UpKubeConfig {
  dir: string;
  stateDir: string;
  /** A cluster of the user's; else the test cluster of scripts/kube-cluster.sh is started. */
  kubeconfig?: string;
  clusterCidr: string;
  timeoutMs: number;
  detach: boolean;
  cliEntry: string;
  /** `--expose NS/SVC:PORT=LOCAL`: kubectl port-forward, supervised. */
  exposes: readonly ExposeSpec[];
  /** `--ingress-gateway`: Istio's default ingress gateway applied, its 80/443 forwarded from 127.0.0.1. */
  ingressGateway: boolean;
}

/** What `mizzen down` needs to remove it (STATE_DIR/kube.json). */
interface KubeState {
  /** The cluster directory when `up` started the cluster. */
  cluster?: string;
  nodePid?: number;
  kubeconfig: string;
  /** Local ports forwarded into the cluster (`--expose`, `--ingress-gateway`). */
  forwards?: KubeForward[];
}

const NODE_NAME = 'mizzen-node';
const stateFile = (stateDir: string): string => join(stateDir, 'kube.json');

function script(cliEntry: string): string {
  return join(dirname(dirname(cliEntry)), 'scripts', 'kube-cluster.sh');
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portsFree(base: number, n: number): Promise<boolean> {
  return Promise.all(Array.from({ length: n }, (_, i) => localPortFree(base + i))).then((r) => r.every(Boolean));
}

async function until<T>(what: string, deadline: number, check: () => Promise<T | undefined | false>, failed?: () => string | undefined): Promise<T> {
  let last = '';
  for (;;) {
    const why = failed?.();
    if (why) throw new MizzenError('RUNTIME_FAILED', why);
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = errorMessage(err);
    }
    if (Date.now() > deadline) throw new MizzenError('RUNTIME_FAILED', `timed out waiting for ${what}${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * `mizzen up --kube DIR`: the Istio flow on a real API server. Starts the test cluster of
 * scripts/kube-cluster.sh (etcd, kube-apiserver, kube-controller-manager, kube-scheduler on
 * loopback) unless `--kubeconfig` names one, installs Mizzen (`mizzen install`), runs one
 * `mizzen node` (in the background, its commands starting in DIR), applies DIR with kubectl once
 * discovery is ready, and waits until every pod is ready. The kubeconfig is written to
 * STATE_DIR/kubeconfig; `mizzen down` stops the node and the cluster and removes them.
 */
export async function upKube(c: UpKubeConfig, ctx: CliContext): Promise<void> {
  const previous = readKubeState(c.stateDir);
  if (previous && alive(previous.nodePid)) throw new MizzenError('USAGE', `a Kubernetes mesh already runs from ${c.stateDir}`, { hint: `\`mizzen down --state-dir ${c.stateDir}\` removes it` });
  mkdirSync(c.stateDir, { recursive: true, mode: 0o700 });
  const sh = script(c.cliEntry);
  const binDir = spawnSync('bash', [sh, 'bin-dir'], { encoding: 'utf8' });
  const kubectl = binDir.status === 0 ? join(binDir.stdout.trim(), 'kubectl') : 'kubectl';
  const kubeconfig = join(c.stateDir, 'kubeconfig');
  const state: KubeState = { kubeconfig };
  const save = (): void => writeFileSync(stateFile(c.stateDir), `${JSON.stringify(state, null, 2)}\n`);
  if (c.kubeconfig) copyFileSync(c.kubeconfig, kubeconfig);
  else {
    if (binDir.status !== 0) throw new MizzenError('USAGE', 'the Kubernetes binaries are not built', { hint: `run ${sh} build (about 10 minutes on 2 cores, cached), or give --kubeconfig of a cluster` });
    state.cluster = join(c.stateDir, 'cluster');
    save();
    let base = 0;
    for (let i = 0; i < 50 && base === 0; i++) {
      const candidate = 27000 + 5 * Math.floor(Math.random() * 900);
      if (await portsFree(candidate, 5)) base = candidate;
    }
    ctx.stdout(`starting a Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) in ${state.cluster}\n`);
    const r = spawnSync('bash', [sh, 'start', state.cluster, '--port-base', String(base), '--cluster-cidr', c.clusterCidr], { encoding: 'utf8' });
    if (r.status !== 0) throw new MizzenError('RUNTIME_FAILED', `the cluster did not start: ${r.stderr.trim()}`, { hint: `\`mizzen down --state-dir ${c.stateDir}\` removes what started` });
    copyFileSync(join(state.cluster, 'kubeconfig'), kubeconfig);
  }
  save();
  const api = new KubeApi(loadKubeConfig({ file: kubeconfig }));
  const deadline = Date.now() + c.timeoutMs;

  ctx.stdout('installing Mizzen (mizzen install)\n');
  const install = spawnSync(process.execPath, [c.cliEntry, 'install', '--kubeconfig', kubeconfig, '--replicas', '1'], { encoding: 'utf8', env: ctx.env });
  if (install.status !== 0) throw new MizzenError('RUNTIME_FAILED', `mizzen install failed: ${install.stderr.trim()}`);

  const nodeLog = join(c.stateDir, 'node.log');
  const fd = openSync(nodeLog, 'a');
  for (const e of c.exposes) if (!(await localPortFree(e.localPort))) throw new MizzenError('USAGE', `--expose ${e.namespace}/${e.service}:${e.port}=${e.localPort}: 127.0.0.1:${e.localPort} is in use`);
  const kubeletPort = await anyFreePort();
  const node = spawn(process.execPath, [c.cliEntry, 'node', '--kubeconfig', kubeconfig, '--name', NODE_NAME, '--state-dir', join(c.stateDir, 'node'), '--workdir', c.dir, '--cluster-cidr', c.clusterCidr, '--kubelet-port', String(kubeletPort)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: ctx.env,
  });
  closeSync(fd);
  node.unref();
  state.nodePid = node.pid;
  save();
  let exited: string | undefined;
  node.once('exit', (code) => (exited = `mizzen node exited (code ${code}): ${readFileSync(nodeLog, 'utf8').trim().split('\n').slice(-10).join('\n')}`));
  const failed = (): string | undefined => exited;
  await until(`node ${NODE_NAME} Ready (log ${nodeLog})`, deadline, async () => {
    const n = await api.request<Obj>('GET', `/api/v1/nodes/${NODE_NAME}`);
    return (n.status?.conditions ?? []).some((x: Obj) => x.type === 'Ready' && x.status === 'True');
  }, failed);
  ctx.stdout(`node ${NODE_NAME} is ready (log ${nodeLog}); waiting for discovery\n`);
  await until('discovery (istio-system, app=istiod) ready', deadline, async () => {
    const pods = await api.request<{ items: Obj[] }>('GET', '/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod');
    return pods.items.some(podReady);
  }, failed);

  if (c.ingressGateway) {
    ctx.stdout(`applying Istio's default ingress gateway (${INGRESS_GATEWAY.namespace}/${INGRESS_GATEWAY.service})\n`);
    const gw = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { encoding: 'utf8', input: ingressGatewayManifests().text });
    if (gw.status !== 0) throw new MizzenError('RUNTIME_FAILED', `kubectl apply of the ingress gateway failed: ${gw.stderr.trim()}`);
  }
  ctx.stdout(`applying ${c.dir} (kubectl apply -f)\n`);
  const apply = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'apply', '-f', c.dir], { encoding: 'utf8' });
  if (apply.status !== 0) throw new MizzenError('RUNTIME_FAILED', `kubectl apply -f ${c.dir} failed: ${apply.stderr.trim()}`);
  ctx.stdout(apply.stdout);
  // Every Deployment rolled out and ready (its pods exist only once its ReplicaSet made them), every pod ready.
  const waiting = await until('every Deployment and pod ready', deadline, async () => {
    const deployments = (await api.request<{ items: Obj[] }>('GET', '/apis/apps/v1/deployments')).items;
    const rolledOut = deployments.every((d) => {
      const want = Number(d.spec?.replicas ?? 1);
      const st = d.status ?? {};
      return Number(st.observedGeneration ?? 0) >= Number(d.metadata?.generation ?? 0) && Number(st.updatedReplicas ?? 0) === want && Number(st.readyReplicas ?? 0) === want && Number(st.replicas ?? 0) === want;
    });
    const pods = (await api.request<{ items: Obj[] }>('GET', '/api/v1/pods')).items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded');
    return rolledOut && pods.length > 0 && pods.every(podReady) && pods;
  }, failed).catch(async (err: unknown) => {
    const pods = (await api.request<{ items: Obj[] }>('GET', '/api/v1/pods').catch(() => ({ items: [] as Obj[] }))).items.filter((p) => !podReady(p));
    throw new MizzenError('RUNTIME_FAILED', `${errorMessage(err)}; not ready: ${pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}`, {
      hint: `it keeps running: kubectl --kubeconfig ${kubeconfig} describe pods; \`mizzen down --state-dir ${c.stateDir}\` removes it`,
    });
  });
  ctx.stdout(`${waiting.length} pods are ready. kubeconfig: ${kubeconfig}\n  kubectl --kubeconfig ${kubeconfig} get pods -A\n`);
  await forwardPorts(c, state, kubectl, save, deadline, ctx);
  if (c.detach) {
    ctx.stdout(`\`mizzen down --state-dir ${c.stateDir}\` stops the node and the cluster\n`);
    return;
  }
  ctx.stdout('Ctrl-C stops the node and the cluster\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await downKube(c.stateDir, c.cliEntry, ctx);
}

/** `--expose` and `--ingress-gateway`'s local ports, each a supervised `kubectl port-forward`. */
async function forwardPorts(c: UpKubeConfig, state: KubeState, kubectl: string, save: () => void, deadline: number, ctx: CliContext): Promise<void> {
  const wanted: KubeForward[] = c.exposes.map((e) => ({ ...e }));
  const gateway: Record<number, number> = {};
  if (c.ingressGateway) {
    // A LoadBalancer on 127.0.0.1 (its EXTERNAL-IP, as file mode shows it): Istio's INGRESS_HOST steps work.
    const patch = spawnSync(kubectl, ['--kubeconfig', state.kubeconfig, 'patch', 'service', INGRESS_GATEWAY.service, '-n', INGRESS_GATEWAY.namespace, '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}'], { encoding: 'utf8' });
    if (patch.status !== 0) ctx.stderr(`warning: the ingress gateway's EXTERNAL-IP was not set: ${patch.stderr.trim()}\n`);
    for (const port of INGRESS_GATEWAY.ports) {
      gateway[port] = (await localPortFree(port)) ? port : await anyFreePort();
      wanted.push({ namespace: INGRESS_GATEWAY.namespace, service: INGRESS_GATEWAY.service, port, localPort: gateway[port]! });
    }
  }
  state.forwards = [];
  for (const f of wanted) {
    state.forwards.push(await startKubeForward(f, kubectl, state.kubeconfig, join(c.stateDir, 'port-forward.log'), deadline));
    save();
    if (!(f.namespace === INGRESS_GATEWAY.namespace && f.service === INGRESS_GATEWAY.service)) ctx.stdout(`  127.0.0.1:${f.localPort} → ${f.namespace}/${f.service}:${f.port} (kubectl port-forward)   e.g. curl http://127.0.0.1:${f.localPort}/\n`);
  }
  if (c.ingressGateway) {
    const http = `127.0.0.1:${gateway[80]}`;
    ctx.stdout(`ingress gateway: http://${http} (TLS: https://127.0.0.1:${gateway[443]}); e.g. export GATEWAY_URL=${http}\n`);
  }
}

function podReady(p: Obj): boolean {
  return p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((x: Obj) => x.type === 'Ready' && x.status === 'True');
}

function readKubeState(stateDir: string): KubeState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as KubeState;
  } catch {
    return undefined;
  }
}

/** Stop what `up --kube` started from `stateDir` (the node first: it removes its pods); false when there is none. */
export async function downKube(stateDir: string, cliEntry: string, ctx: CliContext): Promise<boolean> {
  const state = readKubeState(stateDir);
  if (!state) return false;
  for (const f of state.forwards ?? []) stopKubeForward(f);
  if (state.nodePid && alive(state.nodePid)) {
    process.kill(state.nodePid, 'SIGTERM');
    const deadline = Date.now() + 120_000;
    while (alive(state.nodePid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (alive(state.nodePid)) process.kill(state.nodePid, 'SIGKILL');
    ctx.stdout(`node ${NODE_NAME} stopped\n`);
  }
  if (state.cluster && existsSync(state.cluster)) {
    spawnSync('bash', [script(cliEntry), 'stop', state.cluster], { encoding: 'utf8' });
    rmSync(state.cluster, { recursive: true, force: true });
    ctx.stdout('cluster stopped\n');
  }
  for (const f of ['kube.json', 'kubeconfig', 'node.log', 'port-forward.log']) rmSync(join(stateDir, f), { force: true });
  rmSync(join(stateDir, 'node'), { recursive: true, force: true });
  return true;
}
