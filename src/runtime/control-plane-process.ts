import { dirname, join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { processProblem, type ContainerProblem } from './container-problems.ts';
import { netnsExecArgv } from './netns.ts';
import { ReadinessProber } from './readiness-probe.ts';
import { SupervisedProcess, type BackoffOptions } from './supervised-process.ts';

/** discovery's debug HTTP on a Unix socket, for `mizzen proxy-status --discovery-address unix:.mizzen/discovery.sock`. */
export const DISCOVERY_SOCKET = 'discovery.sock';

export interface ControlPlaneOptions {
  netns: string;
  stateDir: string;
  nodeBinary: string;
  cliEntry: string;
  env: Record<string, string>;
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
}

/**
 * `mizzen discovery` inside the node namespace, reading the config directory the runtime
 * writes (STATE/config) with its CA in STATE/ca; ready when :15014/ready answers.
 */
export class ControlPlaneProcess {
  private readonly process: SupervisedProcess;
  private readonly prober: ReadinessProber;
  private everReady = false;

  constructor(o: ControlPlaneOptions) {
    const argv = netnsExecArgv(o.netns, [o.nodeBinary, o.cliEntry, 'discovery', '--config', join(o.stateDir, 'config'), '--ca-dir', join(o.stateDir, 'ca'), '--http-socket', join(o.stateDir, DISCOVERY_SOCKET)]);
    this.prober = new ReadinessProber(
      { kind: 'http', host: '127.0.0.1', port: 15014, path: '/ready', scheme: 'http' },
      { netns: o.netns, execNetns: o.netns, appUid: 0, appGid: 0, probeUid: 0, probeGid: 0 },
      { initialDelayMs: 0, periodMs: 5000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 },
      o.clock,
      (ready) => {
        if (ready) this.everReady = true;
      },
    );
    const prober = this.prober;
    this.process = new SupervisedProcess(
      { name: 'discovery', argv, env: o.env, cwd: dirname(dirname(o.cliEntry)), logFile: join(o.stateDir, 'logs', 'discovery.log') },
      { clock: o.clock, backoff: o.backoff, log: o.log, onChange: () => (this.process?.isRunning() ? prober.restart() : prober.pause()) },
    );
  }

  start(): void {
    this.process.start();
  }

  isReady(): boolean {
    return this.prober.isReady();
  }

  /** Why discovery is not running, when its last run failed. */
  problem(): ContainerProblem | undefined {
    return processProblem(undefined, 'control plane (mizzen discovery)', this.process.status(), this.isReady(), this.everReady);
  }

  async stop(): Promise<void> {
    this.prober.stop();
    await this.process.stop(3000);
  }
}
