import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { readTerminationMessage } from './termination-message.ts';

/** One process to keep running: a container's command, a sidecar, the control plane. */
export interface ProcessSpec {
  name: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** stdout and stderr are appended here. */
  logFile: string;
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface BackoffOptions {
  /** First restart delay (Kubernetes: 10 s; default here 1 s). */
  initialMs: number;
  maxMs: number;
  /** Running this long without exiting resets the backoff. */
  resetAfterMs: number;
}

/** The kubelet notices an exited container at its next relist (PLEG, every second) and restarts it. */
const KUBELET_SYNC_MS = 1000;

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 });

/** What `mizzen get pods` shows for a container, with Kubernetes' reasons. */
export type ProcessPhase = 'Pending' | 'Running' | 'CrashLoopBackOff' | 'Error' | 'Completed' | 'Terminating' | 'Terminated';

export interface ProcessStatus {
  phase: ProcessPhase;
  restarts: number;
  pid: number | undefined;
  lastExitCode: number | undefined;
  startedAt: number | undefined;
  /** When the next restart is due (while backing off). */
  nextRestartAt: number | undefined;
  /** How the last run ended (Kubernetes' lastState.terminated), once one has. */
  lastTermination: Termination | undefined;
  /** Runs in a row that failed (non-zero exit, signal, or could not start); 0 after a success. */
  failuresInARow: number;
}

/** How one run ended, with what it said (its log output) as the reason. */
export interface Termination {
  /** `StartError`: the process could not be started at all. */
  reason: 'Completed' | 'Error' | 'StartError';
  exitCode: number;
  startedAt: number;
  finishedAt: number;
  /** The first line of the run's output that reads like an error, else its last line. */
  cause: string;
  /** The last lines of the run's output. */
  message: string;
}

export interface SupervisedProcessOptions {
  clock: Clock;
  restartPolicy?: RestartPolicy;
  backoff?: BackoffOptions;
  log?: Logger;
  /** Called after every (re)start and exit, for status and readiness bookkeeping. */
  onChange?: () => void;
  /** Called before every (re)start, before the log file is opened (mizzen node keeps the previous run's log aside). */
  beforeLaunch?: () => void;
}

/**
 * Runs a process and restarts it by its restart policy with exponential backoff, like the
 * kubelet does for a container. The process gets its own process group, so stopping it also
 * stops whatever it started.
 */
export class SupervisedProcess {
  readonly spec: ProcessSpec;
  private readonly clock: Clock;
  private readonly policy: RestartPolicy;
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;
  private readonly onChange: () => void;
  private readonly beforeLaunch: (() => void) | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private phase: ProcessPhase = 'Pending';
  private restarts = 0;
  private delayMs = 0;
  private startedAt: number | undefined;
  private lastExitCode: number | undefined;
  private nextRestartAt: number | undefined;
  private lastTermination: Termination | undefined;
  private failuresInARow = 0;
  /** Size of the log file when the current run started (its output starts there). */
  private logOffset = 0;
  private startError: string | undefined;
  private stopping = false;

  constructor(spec: ProcessSpec, options: SupervisedProcessOptions) {
    this.spec = spec;
    this.clock = options.clock;
    this.policy = options.restartPolicy ?? 'Always';
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.log = options.log ?? silentLogger();
    this.onChange = options.onChange ?? (() => {});
    this.beforeLaunch = options.beforeLaunch;
  }

  start(): void {
    if (this.stopping || this.child) return;
    this.launch();
  }

  status(): ProcessStatus {
    return {
      phase: this.phase,
      restarts: this.restarts,
      pid: this.child?.pid,
      lastExitCode: this.lastExitCode,
      startedAt: this.startedAt,
      nextRestartAt: this.nextRestartAt,
      lastTermination: this.lastTermination,
      failuresInARow: this.failuresInARow,
    };
  }

  /** Running right now (a process exists and has not exited). */
  isRunning(): boolean {
    return this.child !== undefined;
  }

  /** SIGTERM the process group, SIGKILL after `graceMs`; no more restarts. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.nextRestartAt = undefined;
    const child = this.child;
    const exited = this.exited;
    if (child?.pid !== undefined && exited) {
      this.phase = 'Terminating';
      signalGroup(child.pid, 'SIGTERM');
      let killTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited,
        new Promise<void>((resolve) => {
          killTimer = setTimeout(() => {
            if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
            resolve();
          }, graceMs);
        }),
      ]);
      clearTimeout(killTimer);
      await exited;
    }
    this.phase = 'Terminated';
    this.onChange();
  }

  private launch(): void {
    this.timer = undefined;
    this.nextRestartAt = undefined;
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    this.beforeLaunch?.();
    const fd = openSync(this.spec.logFile, 'a');
    this.logOffset = fstatSync(fd).size;
    this.startError = undefined;
    const [cmd, ...args] = this.spec.argv;
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: this.spec.cwd, env: { ...this.spec.env }, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.startedAt = this.clock.now();
    this.phase = 'Running';
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number): void => {
        if (done) return;
        done = true;
        this.onExit(code);
        resolve();
      };
      child.on('error', (err) => {
        this.log.warn({ process: this.spec.name, err: err.message }, 'process could not start');
        // The kubelet's StartError: say so where `mizzen logs` looks.
        this.startError = `failed to start ${cmd}: ${err.message}`;
        try {
          appendFileSync(this.spec.logFile, `${this.startError}\n`);
        } catch {
          // the log directory is gone (the mesh is being removed)
        }
        finish(127);
      });
      child.on('exit', (code, signal) => finish(code ?? (signal ? 128 + signalNumber(signal) : 1)));
    });
    this.log.info({ process: this.spec.name, pid: child.pid }, 'process started');
    this.onChange();
  }

  /**
   * The kubelet's restart rule: a container that exits is shown terminated (Error, or Completed
   * for exit 0) and restarted at the next sync (about a second); one that fails again while its
   * backoff is in force waits the backoff (initial, doubling to the cap) in CrashLoopBackOff.
   * Running `resetAfterMs` without exiting forgets the backoff.
   */
  private onExit(code: number): void {
    const ranFor = this.startedAt === undefined ? 0 : this.clock.now() - this.startedAt;
    this.child = undefined;
    this.lastExitCode = code;
    if (this.stopping) return;
    const said = readTerminationMessage(this.spec.logFile, this.logOffset);
    const reason = this.startError ? 'StartError' : code === 0 ? 'Completed' : 'Error';
    this.lastTermination = {
      reason,
      exitCode: code,
      startedAt: this.startedAt ?? this.clock.now(),
      finishedAt: this.clock.now(),
      cause: this.startError ?? (said.cause || `exit code ${code}`),
      message: said.message,
    };
    // A run long enough to reset the backoff also ends a streak of failures.
    this.failuresInARow = code === 0 ? 0 : (ranFor >= this.backoff.resetAfterMs ? 0 : this.failuresInARow) + 1;
    this.log.info({ process: this.spec.name, code, ranFor, cause: this.lastTermination.cause }, 'process exited');
    const restart = this.policy === 'Always' || (this.policy === 'OnFailure' && code !== 0);
    if (!restart) {
      this.phase = code === 0 ? 'Completed' : 'Error';
      this.onChange();
      return;
    }
    if (ranFor >= this.backoff.resetAfterMs) this.delayMs = 0;
    const backingOff = this.delayMs > 0;
    let wait: number;
    if (backingOff) {
      wait = this.delayMs;
      this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
      this.phase = 'CrashLoopBackOff';
    } else {
      wait = Math.min(KUBELET_SYNC_MS, this.backoff.initialMs);
      this.delayMs = this.backoff.initialMs;
      this.phase = code === 0 ? 'Completed' : 'Error';
    }
    this.restarts++;
    this.nextRestartAt = this.clock.now() + wait;
    this.timer = this.clock.setTimer(() => {
      if (!this.stopping) this.launch();
    }, wait);
    this.onChange();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return table[signal] ?? 1;
}
