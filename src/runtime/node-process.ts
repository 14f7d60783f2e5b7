import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { processProblem, type ContainerProblem } from './container-problems.ts';
import { netnsExecArgv } from './netns.ts';
import { ReadinessProber } from './readiness-probe.ts';
import { SupervisedProcess, type BackoffOptions } from './supervised-process.ts';

export interface NodeProcessOptions {
  /** The process's name in logs and supervision. */
  name: string;
  /** How a failure is reported (`mizzen up`, `get pods`): e.g. "control plane (mizzen discovery)". */
  label: string;
  netns: string;
  /** The command, run as root inside `netns`. */
  argv: readonly string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Ready when GET http://HOST:PORT/PATH answers 2xx from inside the namespace. */
  ready: { host: string; port: number; path: string; periodMs: number };
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
}

/**
 * A process of the mesh's node namespace (discovery, ztunnel, an addon): supervised (restarted
 * with backoff), with an HTTP readiness probe that pauses while it is down, and the cause of its
 * last failure as a container problem.
 */
export class NodeProcess {
  private readonly o: NodeProcessOptions;
  private readonly process: SupervisedProcess;
  private readonly prober: ReadinessProber;
  private everReady = false;

  constructor(o: NodeProcessOptions) {
    this.o = o;
    this.prober = new ReadinessProber(
      { kind: 'http', host: o.ready.host, port: o.ready.port, path: o.ready.path, scheme: 'http' },
      { netns: o.netns, execNetns: o.netns, appUid: 0, appGid: 0, probeUid: 0, probeGid: 0 },
      { initialDelayMs: 0, periodMs: o.ready.periodMs, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 },
      o.clock,
      (ready) => {
        if (ready) this.everReady = true;
      },
    );
    const prober = this.prober;
    this.process = new SupervisedProcess(
      { name: o.name, argv: netnsExecArgv(o.netns, [...o.argv]), env: o.env, cwd: o.cwd, logFile: o.logFile },
      { clock: o.clock, backoff: o.backoff, log: o.log, onChange: () => (this.process?.isRunning() ? prober.restart() : prober.pause()) },
    );
  }

  start(): void {
    this.process.start();
  }

  isReady(): boolean {
    return this.prober.isReady();
  }

  /** Why the process is not running, when its last run failed. */
  problem(): ContainerProblem | undefined {
    return processProblem(undefined, this.o.label, this.process.status(), this.isReady(), this.everReady);
  }

  async stop(graceMs = 3000): Promise<void> {
    this.prober.stop();
    await this.process.stop(graceMs);
  }
}
