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
}

export class ZtunnelProcess {
  private readonly process: NodeProcess;

  constructor(o: ZtunnelProcessOptions) {
    const argv = [
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
      env: o.env,
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
