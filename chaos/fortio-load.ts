/**
 * fortio (Istio's load generator) in the client pod: `mizzen exec deploy/client -- fortio load`
 * at a fixed rate through the pod's sidecar. The result is fortio's own JSON (requests, return
 * codes, latency percentiles, sockets opened); the time of each failure comes from fortio's JSON
 * log lines on stderr (`-log-errors`, on by default), which is how a scenario's failure window and
 * recovery time are measured.
 */
import type { ChildProcess } from 'node:child_process';
import { killMatching, mizzenExecChild } from './chaos-mesh.ts';

export const FORTIO = '/var/cache/mizzen/fortio-1.63.0/fortio';

export interface LoadOptions {
  qps: number;
  connections: number;
  seconds: number;
  url: string;
  /** The pod to run fortio in (`deploy/client`). */
  pod?: string;
  /** fortio's `-labels`: marks its process so the runner's cleanup can find it. */
  label: string;
}

export interface LoadResult {
  qps: number;
  sent: number;
  ok: number;
  failed: number;
  codes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** Connections fortio opened (a broken keep-alive connection is reopened). */
  sockets: number;
  /** Epoch ms of every failure fortio logged. */
  failureTimes: number[];
  /** fortio's warning and error messages, with their counts. */
  logged: Record<string, number>;
  startedAt: number;
}

interface FortioJson {
  ActualQPS: number;
  RetCodes: Record<string, number>;
  DurationHistogram: { Count: number; Percentiles: { Percentile: number; Value: number }[] };
  SocketCount?: number;
}

/**
 * A log line about a failed request: errors (`Unable to connect`, read errors, timeouts) and
 * warnings about a response (`Non ok http code`); not the warnings about pacing (a client that
 * fell behind its schedule on a loaded machine).
 */
function isFailure(level: string, msg: string): boolean {
  if (level === 'err' || level === 'error' || level === 'crit' || level === 'fatal') return true;
  return /code|rror|connect|EOF|timeout|reset|refused/i.test(msg);
}

export class FortioLoad {
  private readonly child: ChildProcess;
  private readonly done: Promise<LoadResult>;
  readonly startedAt = Date.now();

  constructor(meshDir: string, o: LoadOptions) {
    const argv = [FORTIO, 'load', '-qps', String(o.qps), '-c', String(o.connections), '-t', `${o.seconds}s`, '-p', '50,99', '-allow-initial-errors', '-labels', o.label, '-json', '-', o.url];
    this.child = mizzenExecChild(o.pod ?? 'deploy/client', argv, meshDir);
    let stdout = '';
    let stderr = '';
    const failureTimes: number[] = [];
    const messages: Record<string, number> = {};
    this.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      // keep only the tail of fortio's log; failures are taken from complete lines as they come
      const lines = stderr.split('\n');
      stderr = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{"ts"')) continue;
        try {
          const l = JSON.parse(line) as { ts: number; level: string; msg?: string };
          if (l.level === 'info' || l.level === 'debug') continue;
          const msg = String(l.msg ?? '');
          // pacing: a thread that fell behind its schedule on a loaded machine (ActualQPS says it)
          if (/warning only did \d+ out of \d+ calls/.test(msg)) continue;
          messages[msg] = (messages[msg] ?? 0) + 1;
          if (isFailure(l.level, msg)) failureTimes.push(Math.round(l.ts * 1000));
        } catch {
          // a partial line
        }
      }
    });
    this.done = new Promise((resolve, reject) => {
      this.child.on('close', (code) => {
        const at = stdout.indexOf('{');
        if (at < 0) {
          reject(new Error(`fortio gave no result (exit ${code}): ${stderr.slice(-1000)}`));
          return;
        }
        const j = JSON.parse(stdout.slice(at)) as FortioJson;
        const sent = j.DurationHistogram.Count;
        const ok = j.RetCodes['200'] ?? 0;
        const pct = (p: number): number => (j.DurationHistogram.Percentiles.find((x) => x.Percentile === p)?.Value ?? NaN) * 1000;
        resolve({ qps: j.ActualQPS, sent, ok, failed: sent - ok, codes: j.RetCodes, p50Ms: pct(50), p99Ms: pct(99), sockets: j.SocketCount ?? 0, failureTimes, logged: messages, startedAt: this.startedAt });
      });
    });
    // a load stopped by cleanup after its scenario failed: nobody waits for it any more
    this.done.catch(() => undefined);
  }

  /** The result (rejected when fortio was stopped or gave none). */
  result(): Promise<LoadResult> {
    return this.done;
  }

  /** Stops `mizzen exec` (the runner's cleanup; fortio itself: killLabelled). */
  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Kills the fortio processes started with `-labels LABEL` (only the runner's own). */
export function killLabelled(label: string): number {
  return killMatching((argv) => (argv[0] ?? '').endsWith('fortio') && argv[argv.indexOf('-labels') + 1] === label && argv.includes('-labels'));
}
