import { dirname, join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { netnsExecArgv } from './netns.ts';
import { ReadinessProber } from './readiness-probe.ts';
import { SupervisedProcess, type BackoffOptions } from './supervised-process.ts';

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
  private readonly process: SupervisedProcess;
  private readonly prober: ReadinessProber;

  constructor(o: ZtunnelProcessOptions) {
    const argv = netnsExecArgv(o.netns, [
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
    ]);
    this.prober = new ReadinessProber(
      { kind: 'http', host: '127.0.0.1', port: 15021, path: '/healthz/ready', scheme: 'http' },
      { netns: o.netns, execNetns: o.netns, appUid: 0, appGid: 0, probeUid: 0, probeGid: 0 },
      { initialDelayMs: 0, periodMs: 1000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 },
      o.clock,
      () => {},
    );
    const prober = this.prober;
    this.process = new SupervisedProcess(
      { name: 'ztunnel', argv, env: o.env, cwd: dirname(dirname(o.cliEntry)), logFile: join(o.logDir, 'ztunnel.log') },
      { clock: o.clock, backoff: o.backoff, log: o.log, onChange: () => (this.process?.isRunning() ? prober.restart() : prober.pause()) },
    );
  }

  start(): void {
    this.process.start();
  }

  isReady(): boolean {
    return this.prober.isReady();
  }

  async stop(): Promise<void> {
    this.prober.stop();
    await this.process.stop(3000);
  }
}
