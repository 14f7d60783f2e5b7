import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../../src/control/ca/service-account-token.ts';
import { NetworkNamespace } from '../../../src/lib/network-namespace.ts';
import { createListenerFd } from '../../../src/lib/socket-fd.ts';
import { runHostCommand } from '../../../src/runtime/host-command.ts';
import { istioZtunnelEnv } from '../../../src/runtime/ztunnel-process.ts';
import { attachPodNetwork, detachPodNetwork } from '../../../src/runtime/pod-network.ts';
import type { AmbientLab } from './ambient-lab.ts';
import { podYaml } from './ambient-lab.ts';

/**
 * Istio's own ztunnel (the Rust binary scripts/ztunnel.sh builds) as the ztunnel of a second node
 * of an AmbientLab. It runs as Istio's DaemonSet pod does: in its own network namespace on the
 * pod network (its readiness port 15021 is fixed, so never in the host's), with the environment
 * Istio's ztunnel chart sets (src/config.rs names), a pod-bound token for its own pod object on
 * that node, our discovery as XDS and CA on 15012 (reached at the node address through a relay the
 * test holds, as a Service would), and the lab's ZDS socket for that node. Its access log is its
 * stdout (`output`).
 */
export const ISTIO_ZTUNNEL = '/var/cache/mizzen/ztunnel/ztunnel';

export function istioZtunnelSkipReason(): string | false {
  return existsSync(ISTIO_ZTUNNEL) ? false : `Istio's ztunnel is not built: run scripts/ztunnel.sh SRC_DIR (an istio/ztunnel checkout) to get ${ISTIO_ZTUNNEL}`;
}

export class IstioZtunnelNode {
  readonly node: string;
  readonly podName: string;
  readonly netns: string;
  readonly ip: string;
  output = '';
  private readonly lab: AmbientLab;
  private child: ChildProcess | undefined;
  private relay: Server | undefined;
  private readonly relayed = new Set<Socket>();

  constructor(lab: AmbientLab, node: string) {
    this.lab = lab;
    this.node = node;
    this.podName = `ztunnel-${node}`;
    this.netns = `mzl${lab.id}-zt`;
    this.ip = `${lab.subnet}.253`;
  }

  async start(): Promise<void> {
    const lab = this.lab;
    const zds = lab.addNode(this.node);
    await attachPodNetwork(lab.node, { netns: this.netns, hostVeth: `mzl${lab.id}zt`, address: this.ip });
    const uid = `uid-${this.podName}`;
    lab.write(`${this.podName}.yaml`, podYaml({ name: this.podName, namespace: 'istio-system', ip: this.ip, serviceAccount: 'ztunnel', labels: { app: 'ztunnel' }, enrolled: false, node: this.node }, uid));
    await this.startRelay();
    const work = join(lab.dir, this.podName);
    mkdirSync(work, { recursive: true });
    const tokenFile = join(work, 'istio-token');
    writeFileSync(tokenFile, await mintServiceAccountToken({ key: loadOrCreateTokenKey(join(lab.dir, 'ca')).privateKey, namespace: 'istio-system', serviceAccount: 'ztunnel', pod: { name: this.podName, uid } }));
    const rootCert = join(work, 'root-cert.pem');
    writeFileSync(rootCert, lab.discovery.rootCertPem() ?? '');
    // the product's settings for Istio's ztunnel, without its DNS proxy (this lab has no DNS to capture)
    const { ISTIO_META_DNS_CAPTURE: _dns, ...settings } = istioZtunnelEnv({
      discoveryAddress: lab.node.address,
      caRootFile: rootCert,
      tokenFile,
      zdsSocket: zds.path,
      nodeName: this.node,
      podName: this.podName,
      podIp: this.ip,
    });
    const child = spawn('ip', ['netns', 'exec', this.netns, ISTIO_ZTUNNEL], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...settings },
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`Istio's ztunnel exited (${code}):\n${this.output.slice(-4000)}`))));
    exited.catch(() => {});
    const connected = await Promise.race([zds.waitConnected(60_000), exited]);
    if (!connected) throw new Error(`Istio's ztunnel did not connect to the node agent's ZDS socket:\n${this.output.slice(-4000)}`);
  }

  /** What a node-local client of the ztunnel pod sees (its admin port answers on localhost only). */
  async get(port: number, path: string): Promise<string> {
    const r = await runHostCommand('ip', ['netns', 'exec', this.netns, 'curl', '-s', '--max-time', '5', `http://127.0.0.1:${port}${path}`], { allowFailure: true });
    return r.stdout;
  }

  metrics(): Promise<string> {
    return this.get(15020, '/metrics');
  }

  configDump(): Promise<string> {
    return this.get(15000, '/config_dump');
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    for (const s of this.relayed) s.destroy();
    await new Promise<void>((r) => (this.relay ? this.relay.close(() => r()) : r()));
    await detachPodNetwork({ netns: this.netns });
  }

  /** istiod's 15012 at the node address, relayed byte for byte (TLS end to end) to the lab's discovery. */
  private async startRelay(): Promise<void> {
    const [host, port] = splitAddress(this.lab.secureGrpc);
    const ns = NetworkNamespace.open(`/var/run/netns/${this.lab.node.netns}`);
    const fd = ns.run(this.lab.home, () => createListenerFd(this.lab.node.address, 15012));
    ns.close();
    this.relay = createServer((down) => {
      const up = connect(port, host);
      for (const s of [up, down]) {
        this.relayed.add(s);
        s.once('close', () => this.relayed.delete(s));
      }
      down.pipe(up).pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
    });
    await new Promise<void>((r) => this.relay!.listen({ fd }, r));
  }
}

function splitAddress(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i), Number(a.slice(i + 1))];
}
