import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { probeTiming, readinessCheck, ReadinessProber, type ProbeContext } from '../runtime/readiness-probe.ts';
import { SupervisedProcess, type BackoffOptions, type ProcessSpec, type RestartPolicy } from '../runtime/supervised-process.ts';
import { LogTimeline } from './log-timeline.ts';

type Obj = Record<string, any>;

/** A container status as the API has it (core/v1 ContainerStatus `state`). */
export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string } };

export interface NodeContainerOptions {
  podKey: string;
  podUid: string;
  spec: Obj;
  /** Readiness probes: from the node namespace to the pod IP; exec probes in the pod. */
  podIp: string;
  probe: ProbeContext;
  restartPolicy: RestartPolicy;
  logDir: string;
  clock: Clock;
  backoff?: BackoffOptions;
  log: Logger;
  onChange: () => void;
}

const iso = (ms: number | undefined): string => new Date(ms ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * One container of a node's pod: its supervised process (restarted by the pod's restartPolicy
 * with the kubelet's backoff), its readiness prober, its log files (`current.log`, and
 * `previous.log` for `kubectl logs --previous`), and its state as the API reports it. A
 * container that cannot run here stays waiting with the reason it was given.
 */
export class NodeContainer {
  readonly name: string;
  readonly spec: Obj;
  private readonly o: NodeContainerOptions;
  private process: SupervisedProcess | undefined;
  private prober: ReadinessProber | undefined;
  private waitingFor: { reason: string; message?: string } = { reason: 'ContainerCreating' };
  private everStarted = false;
  private lastExit: { code: number; startedAt: number; finishedAt: number } | undefined;
  /** When the lines of current.log and previous.log were written (kubectl logs --timestamps/--since). */
  timeline: LogTimeline | undefined;
  previousTimeline: LogTimeline | undefined;
  private launched: { env: Record<string, string>; cwd: string; user: string[] } | undefined;

  constructor(o: NodeContainerOptions) {
    this.o = o;
    this.name = String(o.spec.name);
    this.spec = o.spec;
  }

  get logFile(): string {
    return join(this.o.logDir, 'current.log');
  }

  get previousLogFile(): string {
    return join(this.o.logDir, 'previous.log');
  }

  /** Not started (yet): the reason shown. */
  wait(reason: string, message?: string): void {
    if (this.process) return;
    const changed = this.waitingFor.reason !== reason || this.waitingFor.message !== message;
    this.waitingFor = { reason, ...(message ? { message } : {}) };
    if (changed) this.o.onChange();
  }

  /** Run it; `user` is the argv prefix that switches to the container's user (for exec too). */
  start(spec: Omit<ProcessSpec, 'logFile' | 'name'>, user: string[] = []): void {
    if (this.process) return;
    this.launched = { env: { ...spec.env }, cwd: spec.cwd, user };
    mkdirSync(this.o.logDir, { recursive: true });
    const check = readinessCheck(this.spec as never, this.o.podIp);
    const prober = new ReadinessProber(check, this.o.probe, probeTiming(this.spec.readinessProbe), this.o.clock, () => this.o.onChange());
    let wasRunning = false;
    const proc: SupervisedProcess = new SupervisedProcess(
      { ...spec, name: `${this.o.podKey}/${this.name}`, logFile: this.logFile },
      {
        clock: this.o.clock,
        restartPolicy: this.o.restartPolicy,
        backoff: this.o.backoff,
        log: this.o.log,
        // A restart: the last run's output becomes `previous` (kubectl logs --previous), the new
        // run writes a new current.log; a container that exited for good keeps its log current.
        beforeLaunch: () => {
          this.timeline?.stop();
          if (existsSync(this.logFile)) {
            renameSync(this.logFile, this.previousLogFile);
            this.previousTimeline = this.timeline;
          }
          closeSync(openSync(this.logFile, 'a'));
          this.timeline = new LogTimeline(this.logFile);
          this.timeline.start();
        },
        onChange: () => {
          const running = proc.isRunning();
          if (running && !wasRunning) prober.restart();
          if (!running && wasRunning) {
            prober.pause();
            const s = proc.status();
            this.lastExit = { code: s.lastExitCode ?? 0, startedAt: s.startedAt ?? this.o.clock.now(), finishedAt: this.o.clock.now() };
          }
          wasRunning = running;
          this.o.onChange();
        },
      },
    );
    this.process = proc;
    this.prober = prober;
    this.everStarted = true;
    proc.start();
  }

  /**
   * Where `kubectl exec` enters: the running process (its mount and network namespaces), its
   * environment, working directory and user; undefined when it is not running.
   */
  execTarget(): { pid: number; env: Record<string, string>; cwd: string; user: string[] } | undefined {
    const pid = this.isRunning() ? this.process?.status().pid : undefined;
    if (pid === undefined || !this.launched) return undefined;
    return { pid, ...this.launched };
  }

  /** Why it has not started (ContainerCreating, PodInitializing, ImageNotRunnable, ...). */
  get waitingReason(): string {
    return this.waitingFor.reason;
  }

  get started(): boolean {
    return this.everStarted;
  }

  isRunning(): boolean {
    return this.process?.isRunning() ?? false;
  }

  isReady(): boolean {
    return this.isRunning() && (this.prober?.isReady() ?? false);
  }

  /** Exited for good (restart policy done with it): exit code, else undefined. */
  finished(): number | undefined {
    const s = this.process?.status();
    if (!s) return undefined;
    return s.phase === 'Completed' || s.phase === 'Error' ? (s.nextRestartAt === undefined ? s.lastExitCode : undefined) : undefined;
  }

  get restarts(): number {
    return this.process?.status().restarts ?? 0;
  }

  /** SIGTERM, then SIGKILL after the grace period; no more restarts. */
  async stop(graceMs: number): Promise<void> {
    this.prober?.stop();
    await this.process?.stop(graceMs);
    this.timeline?.stop();
  }

  private containerId(restarts: number): string {
    return `mizzen://${createHash('sha256').update(`${this.o.podUid}/${this.name}/${restarts}`).digest('hex')}`;
  }

  /** core/v1 ContainerStatus. */
  status(): Obj {
    const base = { name: this.name, image: String(this.spec.image ?? ''), imageID: '', restartCount: this.restarts };
    const p = this.process?.status();
    const lastState = (): Obj => {
      const t = p?.lastTermination;
      if (!t || (p?.restarts ?? 0) === 0) return {};
      return { terminated: { exitCode: t.exitCode, reason: t.reason, ...(t.cause ? { message: t.cause } : {}), startedAt: iso(t.startedAt), finishedAt: iso(t.finishedAt), containerID: this.containerId(p!.restarts - 1) } };
    };
    if (!p) return { ...base, state: { waiting: this.waitingFor }, lastState: {}, ready: false, started: false };
    let state: ContainerState;
    if (p.phase === 'Running') state = { running: { startedAt: iso(p.startedAt) } };
    else if (p.phase === 'CrashLoopBackOff') {
      const back = Math.max(1, Math.round(((p.nextRestartAt ?? this.o.clock.now()) - (p.lastTermination?.finishedAt ?? this.o.clock.now())) / 1000));
      state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${back}s restarting failed container=${this.name} pod=${this.o.podKey.split('/')[1]}_${this.o.podKey.split('/')[0]}(${this.o.podUid})` } };
    } else if (p.phase === 'Pending') state = { waiting: { reason: 'ContainerCreating' } };
    else {
      const t = p.lastTermination;
      const code = p.lastExitCode ?? t?.exitCode ?? 0;
      const startedAt = this.lastExit?.startedAt ?? t?.startedAt ?? p.startedAt;
      const finishedAt = this.lastExit?.finishedAt ?? t?.finishedAt;
      const reason = code === 0 ? 'Completed' : t?.reason === 'StartError' ? 'StartError' : 'Error';
      state = { terminated: { exitCode: code, reason, ...(t?.cause && code !== 0 ? { message: t.cause } : {}), startedAt: iso(startedAt), finishedAt: iso(finishedAt), containerID: this.containerId(p.restarts) } };
    }
    const running = 'running' in state;
    return { ...base, state, lastState: running || 'waiting' in state ? lastState() : {}, ready: this.isReady(), started: running, containerID: this.containerId(p.restarts) };
  }
}
