import type { Container, Probe } from '../api/kube/pod.ts';
import type { Clock, TimerHandle } from '../lib/clock.ts';
import { runHostCommand } from './host-command.ts';
import { asUserArgv, netnsExecArgv } from './netns.ts';

/**
 * Readiness checks, run like the kubelet's: httpGet (2xx/3xx) and tcpSocket (connects) from the
 * node namespace to the pod address (capture leaves the node's connections alone, as Istio's
 * probe rewrite makes kubelet probes bypass the sidecar), exec (exits 0) inside the pod; without
 * a readinessProbe, a TCP connect to the first declared port.
 */
export type ProbeCheck = { kind: 'http'; host: string; port: number; path: string; scheme: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'exec'; command: string[] } | { kind: 'none' };

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
}

function resolvePort(port: number | string | undefined, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) return Number(port);
    return container.ports?.find((p) => p.name === port)?.containerPort;
  }
  return undefined;
}

/** The check a container's readiness comes from. */
export function readinessCheck(container: Container, podIp: string): ProbeCheck {
  const probe: Probe | undefined = container.readinessProbe;
  if (probe?.httpGet) {
    const port = resolvePort(probe.httpGet.port, container);
    if (port !== undefined) {
      const path = probe.httpGet.path ?? '/';
      return { kind: 'http', host: probe.httpGet.host ?? podIp, port, path: path.startsWith('/') ? path : `/${path}`, scheme: (probe.httpGet.scheme ?? 'HTTP').toLowerCase() };
    }
  }
  if (probe?.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, container);
    if (port !== undefined) return { kind: 'tcp', host: probe.tcpSocket.host ?? podIp, port };
  }
  if (probe?.exec?.command && probe.exec.command.length > 0) return { kind: 'exec', command: probe.exec.command };
  const declared = container.ports?.find((p) => (p.protocol ?? 'TCP') === 'TCP')?.containerPort;
  if (declared !== undefined) return { kind: 'tcp', host: podIp, port: declared };
  return { kind: 'none' };
}

export function probeTiming(probe: Probe | undefined): ProbeTiming {
  return {
    initialDelayMs: (probe?.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe?.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe?.timeoutSeconds ?? 1) * 1000,
    failureThreshold: probe?.failureThreshold ?? 3,
    successThreshold: probe?.successThreshold ?? 1,
  };
}

export interface ProbeContext {
  /** Where httpGet/tcpSocket probes run from (the node namespace for pods). */
  netns: string;
  /** Where exec probes run (the pod's namespace). */
  execNetns: string;
  /** uid/gid the exec probe runs as (the app's). */
  appUid: number;
  appGid: number;
  probeUid: number;
  probeGid: number;
}

/** Run one check; true when it passed. */
export async function runCheck(check: ProbeCheck, ctx: ProbeContext, timeoutMs: number): Promise<boolean> {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  let argv: string[];
  switch (check.kind) {
    case 'none':
      return true;
    case 'http': {
      const url = `${check.scheme === 'https' ? 'https' : 'http'}://${check.host}:${check.port}${check.path}`;
      argv = asUserArgv(ctx.probeUid, ctx.probeGid, ['curl', '-k', '-s', '-o', '/dev/null', '-m', secs, '-w', '%{http_code}', url]);
      const full = netnsExecArgv(ctx.netns, argv);
      const r = await runHostCommand(full[0], full.slice(1), { allowFailure: true });
      const code = Number(r.stdout.trim());
      return code >= 200 && code < 400;
    }
    case 'tcp':
      argv = asUserArgv(ctx.probeUid, ctx.probeGid, ['timeout', secs, 'bash', '-c', `exec 3<>/dev/tcp/${check.host}/${check.port}`]);
      break;
    case 'exec':
      argv = ['timeout', secs, ...asUserArgv(ctx.appUid, ctx.appGid, check.command)];
      break;
  }
  const full = netnsExecArgv(check.kind === 'exec' ? ctx.execNetns : ctx.netns, argv);
  const r = await runHostCommand(full[0], full.slice(1), { allowFailure: true });
  return r.code === 0;
}

/**
 * Probes one container on a schedule and keeps its readiness. Until the first success it checks
 * every 500 ms (so a mesh comes up fast); then at the probe's period with its thresholds.
 */
export class ReadinessProber {
  private readonly check: ProbeCheck;
  private readonly ctx: ProbeContext;
  private readonly timing: ProbeTiming;
  private readonly clock: Clock;
  private readonly onChange: (ready: boolean) => void;
  private timer: TimerHandle | undefined;
  private ready = false;
  private everReady = false;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  private generation = 0;

  constructor(check: ProbeCheck, ctx: ProbeContext, timing: ProbeTiming, clock: Clock, onChange: (ready: boolean) => void) {
    this.check = check;
    this.ctx = ctx;
    this.timing = timing;
    this.clock = clock;
    this.onChange = onChange;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** (Re)start probing, e.g. after the container (re)started; readiness starts false. */
  restart(): void {
    this.timer?.cancel();
    this.generation++;
    this.setReady(false);
    this.everReady = false;
    this.successes = 0;
    this.failures = 0;
    this.schedule(this.timing.initialDelayMs);
  }

  /** The container is not running: not ready, no probing until restart(). */
  pause(): void {
    this.timer?.cancel();
    this.generation++;
    this.setReady(false);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const gen = this.generation;
    this.timer = this.clock.setTimer(() => void this.tick(gen), ms);
  }

  private async tick(gen: number): Promise<void> {
    if (this.stopped || gen !== this.generation) return;
    const ok = await runCheck(this.check, this.ctx, this.timing.timeoutMs).catch(() => false);
    if (this.stopped || gen !== this.generation) return;
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (this.successes >= (this.everReady ? this.timing.successThreshold : 1)) {
        this.everReady = true;
        this.setReady(true);
      }
    } else {
      this.successes = 0;
      this.failures++;
      if (!this.everReady || this.failures >= this.timing.failureThreshold) this.setReady(false);
    }
    this.schedule(this.everReady ? this.timing.periodMs : 500);
  }

  private setReady(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    this.onChange(ready);
  }
}
