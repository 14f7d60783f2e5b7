import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { createServer, Socket, type Server } from 'node:net';
import { buildQuery } from '../../../src/data/dns/dns-message.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Discovery } from '../../../src/control/discovery.ts';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../../src/control/ca/service-account-token.ts';
import { systemClock } from '../../../src/lib/clock.ts';
import { createLogFactory } from '../../../src/lib/log.ts';
import { NetworkNamespace } from '../../../src/lib/network-namespace.ts';
import { createListenerFd, createSocketFd } from '../../../src/lib/socket-fd.ts';
import { GuardRoutes } from '../../../src/runtime/guard-routes.ts';
import { runHostCommand } from '../../../src/runtime/host-command.ts';
import { inpodRouteCommands, inpodRouteRemovalCommands, renderInpodRemoval, renderInpodRules } from '../../../src/runtime/inpod-rules.ts';
import { runInNetns } from '../../../src/runtime/netns.ts';
import { attachPodNetwork, createNodeNetwork, detachPodNetwork, type NodeNetwork } from '../../../src/runtime/pod-network.ts';
import { ZdsServer } from '../../../src/runtime/zds-server.ts';

/**
 * A small ambient lab for netns tests: a node namespace with a bridge, pods as namespaces on a
 * random /24 (guarded by an unreachable route), `mizzen discovery` in process (with its CA) fed
 * from a config directory, a ZDS server (the node agent's side) and a real `mizzen proxy ztunnel`
 * child process serving the pods it is told about. Apps are sockets the test opens inside pods.
 */
const CLI = fileURLToPath(new URL('../../../bin/mizzen.js', import.meta.url));

export interface LabPod {
  name: string;
  namespace: string;
  ip: string;
  netns: string;
  hostVeth: string;
  serviceAccount: string;
  labels: Record<string, string>;
  enrolled: boolean;
  /** The node (Pod spec.nodeName) whose ztunnel serves the pod: `lab-node` unless added with another. */
  node: string;
}

/** The node our ztunnel serves; `addNode` adds others (each with its own ZDS socket). */
export const LAB_NODE = 'lab-node';

export class AmbientLab {
  readonly id = randomBytes(3).toString('hex');
  readonly subnet = `10.${250 + (parseInt(this.id.slice(0, 2), 16) % 4)}.${parseInt(this.id.slice(2, 4), 16)}`;
  readonly vipSubnet = `10.${246 + (parseInt(this.id.slice(0, 2), 16) % 4)}.${parseInt(this.id.slice(2, 4), 16)}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'mizzen-lab-'));
  readonly configDir = join(this.dir, 'config');
  readonly node: NodeNetwork = { netns: `mzl${this.id}-node`, bridge: 'mzbr0', address: '', prefixLength: 24 };
  readonly pods = new Map<string, LabPod>();
  readonly guard: GuardRoutes;
  readonly home = NetworkNamespace.current();
  discovery!: Discovery;
  grpc = '';
  /** Discovery's TLS gRPC address (istiod's 15012: XDS and CA for a ztunnel with a token). */
  secureGrpc = '';
  zds!: ZdsServer;
  /** The node agent's ZDS server per node (LAB_NODE's is `zds`). */
  readonly nodeAgents = new Map<string, ZdsServer>();
  ztunnel: ChildProcess | undefined;
  ztunnelOut = '';
  ports: { admin?: number; ready?: number; metrics?: number } = {};
  accessLog = join(this.dir, 'access.log');
  /** Redirect pods' DNS to ztunnel's 15053 (start ztunnel with --dns-capture). */
  dnsCapture = false;
  private nextIp = 2;
  private vethSeq = 0;
  private readonly servers: Server[] = [];

  constructor() {
    this.node.address = `${this.subnet}.1`;
    this.guard = new GuardRoutes({ cidrs: [`${this.subnet}.0/24`, `${this.vipSubnet}.0/24`], owner: `lab-${this.id}`, dir: join('/run/mizzen', `guards-lab-${this.id}`) });
  }

  vip(n: number): string {
    return `${this.vipSubnet}.${n}`;
  }

  async start(config: string): Promise<void> {
    await this.guard.acquire();
    await createNodeNetwork(this.node);
    rmSync(this.configDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(this.configDir, { recursive: true });
    writeFileSync(join(this.configDir, 'base.yaml'), config);
    writeFileSync(join(this.configDir, 'ztunnel.yaml'), podYaml({ name: 'ztunnel-lab', namespace: 'istio-system', ip: `${this.subnet}.254`, serviceAccount: 'ztunnel', labels: { app: 'ztunnel' }, enrolled: false, node: LAB_NODE }, 'uid-ztunnel-lab'));
    this.discovery = new Discovery({
      configPaths: [this.configDir],
      caDir: join(this.dir, 'ca'),
      trustDomain: 'cluster.local',
      grpcAddr: '127.0.0.1:0',
      secureGrpcAddr: '127.0.0.1:0',
      httpAddr: '127.0.0.1:0',
      debounceAfterMs: 10,
      debounceMaxMs: 200,
      clock: systemClock,
      logs: createLogFactory({ levels: 'silent' }),
      rescanIntervalMs: 100,
      // as istiod's serving certificate: a ztunnel outside this process dials it by that name
      servingHosts: ['localhost', '127.0.0.1', 'istiod.istio-system.svc'],
    });
    const addresses = await this.discovery.start();
    this.grpc = addresses.grpc;
    this.secureGrpc = addresses.secureGrpc ?? '';
    this.zds = new ZdsServer({ path: join(this.dir, 'ztunnel.sock') });
    this.zds.start();
    this.nodeAgents.set(LAB_NODE, this.zds);
  }

  /** Another node: its own ZDS socket (for the ztunnel that serves it); pods join it with `addPod(..., {node})`. */
  addNode(name: string): ZdsServer {
    const zds = new ZdsServer({ path: join(this.dir, `${name}.sock`) });
    zds.start();
    this.nodeAgents.set(name, zds);
    return zds;
  }

  private agentOf(pod: LabPod): ZdsServer {
    const zds = this.nodeAgents.get(pod.node);
    if (!zds) throw new Error(`pod ${pod.name}: no node ${pod.node} in this lab (addNode first)`);
    return zds;
  }

  /** A pod namespace on the bridge, and its Pod object for discovery. */
  async addPod(name: string, o: { namespace?: string; serviceAccount?: string; labels?: Record<string, string>; enrolled?: boolean; node?: string } = {}): Promise<LabPod> {
    const pod: LabPod = {
      name,
      namespace: o.namespace ?? 'demo',
      ip: `${this.subnet}.${this.nextIp++}`,
      netns: `mzl${this.id}-${name}`,
      hostVeth: `mzl${this.id}v${++this.vethSeq}`,
      serviceAccount: o.serviceAccount ?? name,
      labels: o.labels ?? { app: name },
      enrolled: o.enrolled ?? true,
      node: o.node ?? LAB_NODE,
    };
    await attachPodNetwork(this.node, { netns: pod.netns, hostVeth: pod.hostVeth, address: pod.ip });
    this.pods.set(name, pod);
    this.writePod(pod);
    if (pod.enrolled) await this.enroll(pod);
    return pod;
  }

  writePod(pod: LabPod): void {
    writeFileSync(join(this.configDir, `pod-${pod.name}.yaml`), podYaml(pod, `uid-${pod.name}`));
  }

  /** What the node agent does: in-pod rules, then ZDS AddWorkload, then the annotation. */
  async enroll(pod: LabPod): Promise<void> {
    await runInNetns(pod.netns, 'nft', ['-f', '-'], { input: renderInpodRules({ exemptSources: [this.node.address], dnsCapture: this.dnsCapture }) });
    for (const args of inpodRouteCommands()) await runInNetns(pod.netns, 'ip', args, { allowFailure: true });
    await this.agentOf(pod).add({ uid: `uid-${pod.name}`, info: { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount }, netnsPath: `/var/run/netns/${pod.netns}` });
    pod.enrolled = true;
    this.writePod(pod);
  }

  async unenroll(pod: LabPod): Promise<void> {
    await runInNetns(pod.netns, 'nft', ['-f', '-'], { input: renderInpodRemoval(), allowFailure: true });
    for (const args of inpodRouteRemovalCommands()) await runInNetns(pod.netns, 'ip', args, { allowFailure: true });
    await this.agentOf(pod).remove(`uid-${pod.name}`);
    pod.enrolled = false;
    this.writePod(pod);
  }

  async startZtunnel(extra: string[] = []): Promise<void> {
    const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(join(this.dir, 'ca')).privateKey, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: 'ztunnel-lab', uid: 'uid-ztunnel-lab' } });
    const tokenFile = join(this.dir, 'ztunnel-token');
    writeFileSync(tokenFile, token);
    const child = spawn(process.execPath, [CLI, 'proxy', 'ztunnel', '--discovery', this.grpc, '--token-file', tokenFile, '--node', LAB_NODE, '--zds-socket', this.zds.path, '--admin-port', '0', '--readiness-port', '0', '--metrics-port', '0', '--access-log-file', this.accessLog, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MIZZEN_LOG: process.env.MIZZEN_LAB_LOG ?? 'warn' },
    });
    this.ztunnel = child;
    child.stderr!.on('data', (d: Buffer) => (this.ztunnelOut += d.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        this.ztunnelOut += d.toString();
        const m = /admin 127\.0\.0\.1:(\d+), ready :(\d+)\/healthz\/ready, metrics :(\d+)/.exec(out);
        if (m) {
          this.ports = { admin: Number(m[1]), ready: Number(m[2]), metrics: Number(m[3]) };
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`ztunnel exited (${code}):\n${this.ztunnelOut}`)));
    });
    if (!(await this.zds.waitConnected(15_000))) throw new Error(`ztunnel did not connect to the node agent:\n${this.ztunnelOut}`);
  }

  /** An app listening inside a pod: replies `remote=IP` then echoes. */
  async app(pod: LabPod, port: number): Promise<Server> {
    const ns = NetworkNamespace.open(`/var/run/netns/${pod.netns}`);
    const fd = ns.run(this.home, () => createListenerFd('0.0.0.0', port));
    ns.close();
    const server = createServer((s) => {
      s.write(`remote=${(s.remoteAddress ?? '').replace(/^::ffff:/, '')}\n`);
      s.pipe(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen({ fd }, r));
    this.servers.push(server);
    return server;
  }

  /** Connect from inside a pod (as its application would), send `payload`, return what came back. */
  async call(pod: LabPod, host: string, port: number, payload = 'ping\n', timeoutMs = 10_000): Promise<string> {
    const ns = NetworkNamespace.open(`/var/run/netns/${pod.netns}`);
    const fd = ns.run(this.home, () => createSocketFd({}));
    ns.close();
    const s = new Socket({ fd, readable: true, writable: true });
    return new Promise((resolve, reject) => {
      let got = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve(got);
      }, timeoutMs);
      s.on('data', (d) => {
        got += d.toString();
        if (got.includes(payload.trim())) {
          clearTimeout(timer);
          s.end();
          resolve(got);
        }
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        if (got) resolve(got);
        else reject(e);
      });
      s.once('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
      s.connect(port, host, () => s.write(payload));
    });
  }

  /** A connection from inside a pod, left open (resolves once connected). */
  async open(pod: LabPod, host: string, port: number): Promise<Socket> {
    const ns = NetworkNamespace.open(`/var/run/netns/${pod.netns}`);
    const fd = ns.run(this.home, () => createSocketFd({}));
    ns.close();
    const s = new Socket({ fd, readable: true, writable: true });
    s.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(port, host, () => resolve());
    });
    return s;
  }

  /** A DNS query from inside a pod to `server:53` (captured to ztunnel when DNS capture is on). */
  async dns(pod: LabPod, server: string, name: string, type = 1): Promise<Buffer | undefined> {
    const ns = NetworkNamespace.open(`/var/run/netns/${pod.netns}`);
    const fd = ns.run(this.home, () => createSocketFd({ protocol: 'udp', bind: { address: '0.0.0.0', port: 0 } }));
    ns.close();
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind({ fd }, () => r()));
    try {
      return await new Promise<Buffer | undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), 3000);
        sock.on('message', (m) => {
          clearTimeout(t);
          resolve(m);
        });
        sock.send(buildQuery(Math.floor(Math.random() * 65535), name, type), 53, server);
      });
    } finally {
      sock.close();
    }
  }

  async metrics(): Promise<string> {
    const r = await fetch(`http://127.0.0.1:${this.ports.metrics}/metrics`);
    return r.text();
  }

  async configDump(): Promise<Record<string, unknown>> {
    return (await (await fetch(`http://127.0.0.1:${this.ports.admin}/config_dump`)).json()) as Record<string, unknown>;
  }

  write(file: string, yaml: string): void {
    writeFileSync(join(this.configDir, file), yaml);
  }

  remove(file: string): void {
    rmSync(join(this.configDir, file), { force: true });
  }

  async close(): Promise<void> {
    for (const s of this.servers) s.close();
    if (this.ztunnel && this.ztunnel.exitCode === null) {
      const exited = new Promise((r) => this.ztunnel!.once('exit', r));
      this.ztunnel.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.ztunnel.exitCode === null) this.ztunnel.kill('SIGKILL');
    }
    for (const zds of this.nodeAgents.values()) zds.close();
    await this.discovery?.close();
    for (const p of this.pods.values()) await detachPodNetwork({ netns: p.netns });
    await runHostCommand('ip', ['netns', 'delete', this.node.netns], { allowFailure: true });
    await this.guard.release();
    this.home.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function podYaml(p: Pick<LabPod, 'name' | 'namespace' | 'ip' | 'serviceAccount' | 'labels' | 'enrolled' | 'node'>, uid: string): string {
  const annotations = p.enrolled ? { 'ambient.istio.io/redirection': 'enabled' } : {};
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${p.name}
  namespace: ${p.namespace}
  uid: ${uid}
  labels: ${JSON.stringify(p.labels)}
  annotations: ${JSON.stringify(annotations)}
spec:
  serviceAccountName: ${p.serviceAccount}
  nodeName: ${p.node}
  containers: [{name: app, image: app, ports: [{name: tcp, containerPort: 8080}]}]
status:
  podIP: ${p.ip}
  podIPs: [{ip: ${p.ip}}]
  phase: Running
  conditions: [{type: Ready, status: "True"}]
`;
}
