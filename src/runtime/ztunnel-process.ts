import { dirname, join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { NodeProcess } from './node-process.ts';
import type { BackoffOptions } from './supervised-process.ts';

/**
 * The node's ztunnel (Istio runs it as a DaemonSet pod): `mizzen proxy ztunnel` as root inside
 * the node namespace, next to discovery (15012, TLS with its pod-bound token), connected to the
 * node agent's ZDS socket; ready when :15021/healthz/ready answers.
 */
export interface ZtunnelProcessOptions {
  netns: string;
  nodeName: string;
  podName: string;
  podIp: string;
  discoveryAddress: string;
  caRootFile: string;
  tokenFile: string;
  zdsSocket: string;
  logDir: string;
  nodeBinary: string;
  cliEntry: string;
  env: Record<string, string>;
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
  /**
   * Istio's ztunnel (the Rust binary, e.g. from scripts/ztunnel.sh) instead of `mizzen proxy
   * ztunnel`, configured as Istio's ztunnel chart does through its environment: discovery and
   * CA on 15012 (istiod's name for TLS), the root cert, the pod-bound token, the ZDS socket, and
   * the pod's identity. Its access log goes to its own log (ztunnel.log), not ztunnel-access.log.
   */
  istioBinary?: string;
}

export class ZtunnelProcess {
  private readonly process: NodeProcess;

  constructor(o: ZtunnelProcessOptions) {
    const istio = o.istioBinary ? istioZtunnelEnv(o) : undefined;
    const argv = o.istioBinary ? [o.istioBinary] : [
      o.nodeBinary,
      o.cliEntry,
      'proxy',
      'ztunnel',
      '--discovery',
      `${o.discoveryAddress}:15012`,
      '--ca-root',
      o.caRootFile,
      '--token-file',
      o.tokenFile,
      '--node',
      o.nodeName,
      '--pod',
      o.podName,
      '--namespace',
      'istio-system',
      '--ip',
      o.podIp,
      '--zds-socket',
      o.zdsSocket,
      '--access-log-file',
      join(o.logDir, 'ztunnel-access.log'),
      '--dns-capture',
    ];
    this.process = new NodeProcess({
      name: 'ztunnel',
      label: 'ztunnel',
      netns: o.netns,
      argv,
      env: istio ? { ...o.env, ...istio } : o.env,
      cwd: dirname(dirname(o.cliEntry)),
      logFile: join(o.logDir, 'ztunnel.log'),
      ready: { host: '127.0.0.1', port: 15021, path: '/healthz/ready', periodMs: 1000 },
      clock: o.clock,
      log: o.log,
      backoff: o.backoff,
    });
  }

  start(): void {
    this.process.start();
  }

  isReady(): boolean {
    return this.process.isReady();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}

/** What Istio's ztunnel needs to know to run on our control plane as a node's ztunnel. */
export type IstioZtunnelSettings = Pick<ZtunnelProcessOptions, 'discoveryAddress' | 'caRootFile' | 'tokenFile' | 'zdsSocket' | 'nodeName' | 'podName' | 'podIp'>;

/**
 * Istio's ztunnel settings (its src/config.rs names), as the ztunnel Helm chart sets them (also
 * used by the data-plane benchmark's `istio-ztunnel` modes).
 */
export function istioZtunnelEnv(o: IstioZtunnelSettings): Record<string, string> {
  const discovery = `https://${o.discoveryAddress}:15012`;
  return {
    XDS_ADDRESS: discovery,
    CA_ADDRESS: discovery,
    XDS_ROOT_CA: o.caRootFile,
    CA_ROOT_CA: o.caRootFile,
    // our discovery's serving certificate names istiod's Service, not the node address
    ALT_XDS_HOSTNAME: 'istiod.istio-system.svc',
    ALT_CA_HOSTNAME: 'istiod.istio-system.svc',
    AUTH_TOKEN: o.tokenFile,
    INPOD_UDS: o.zdsSocket,
    NODE_NAME: o.nodeName,
    POD_NAME: o.podName,
    POD_NAMESPACE: 'istio-system',
    INSTANCE_IP: o.podIp,
    SERVICE_ACCOUNT: 'ztunnel',
    CLUSTER_ID: 'Kubernetes',
    ISTIO_META_DNS_CAPTURE: 'true',
    RUST_LOG: 'info',
  };
}
