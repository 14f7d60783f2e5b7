import { dirname, join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { ContainerProblem } from './container-problems.ts';
import { NodeProcess } from './node-process.ts';
import type { BackoffOptions } from './supervised-process.ts';

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
  private readonly process: NodeProcess;

  constructor(o: ControlPlaneOptions) {
    this.process = new NodeProcess({
      name: 'discovery',
      label: 'control plane (mizzen discovery)',
      netns: o.netns,
      argv: [o.nodeBinary, o.cliEntry, 'discovery', '--config', join(o.stateDir, 'config'), '--ca-dir', join(o.stateDir, 'ca'), '--http-socket', join(o.stateDir, DISCOVERY_SOCKET)],
      env: o.env,
      cwd: dirname(dirname(o.cliEntry)),
      logFile: join(o.stateDir, 'logs', 'discovery.log'),
      ready: { host: '127.0.0.1', port: 15014, path: '/ready', periodMs: 5000 },
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

  /** Why discovery is not running, when its last run failed. */
  problem(): ContainerProblem | undefined {
    return this.process.problem();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}
