import { PROXY_GID, PROXY_UID } from './capture-rules.ts';
import type { PodStatusView } from './pod-instance.ts';
import type { ProcessStatus } from './supervised-process.ts';

/**
 * A container that is not running as it should, with what it said when it stopped: what `mizzen
 * up`, `up -d` and `get pods` report instead of a bare "not ready".
 */
export interface ContainerProblem {
  /** `namespace/name` of the pod; undefined for the mesh's own processes (the control plane). */
  pod: string | undefined;
  container: string;
  phase: string;
  restarts: number;
  exitCode: number;
  failuresInARow: number;
  /** One line: what went wrong (the run's first error line, or its last line). */
  cause: string;
  /** When the last run ended (ms since the epoch): identifies one failure. */
  finishedAt: number;
  /**
   * `up -d` gives up at once: the container was never ready and failed FATAL_FAILURES_IN_A_ROW
   * runs in a row (or could not be started at all). Otherwise it is a crash loop worth waiting
   * on (it was ready before, or it may still come up), as the kubelet keeps restarting it.
   */
  fatal: boolean;
}

/** Failed runs in a row, never ready in between, after which `up -d` stops waiting. */
export const FATAL_FAILURES_IN_A_ROW = 3;

/** The problem of one process, if its last run failed and it has not recovered since. */
export function processProblem(pod: string | undefined, container: string, status: ProcessStatus, ready: boolean, everReady: boolean): ContainerProblem | undefined {
  const t = status.lastTermination;
  if (!t || t.reason === 'Completed' || status.failuresInARow === 0 || ready) return undefined;
  // Not restarted again (restartPolicy Never/OnFailure): nothing more to wait for. A first failure shows Error too, with its restart due.
  const giveUp = (status.phase === 'Error' || status.phase === 'Completed') && status.nextRestartAt === undefined;
  return {
    pod,
    container,
    phase: status.phase,
    restarts: status.restarts,
    exitCode: t.exitCode,
    failuresInARow: status.failuresInARow,
    cause: t.cause,
    finishedAt: t.finishedAt,
    fatal: !everReady && !giveUp && (t.reason === 'StartError' || status.failuresInARow >= FATAL_FAILURES_IN_A_ROW),
  };
}

/**
 * Every failing container of these pods. With `explain`, a cause that names a path the
 * container's user cannot reach says so (Node reports an unreadable module as not found).
 */
export function containerProblems(pods: readonly PodStatusView[], explain?: (path: string, uid: number, gid: number, sidecar: boolean) => string | undefined): ContainerProblem[] {
  const out: ContainerProblem[] = [];
  for (const p of pods) {
    for (const c of p.containers ?? []) {
      const problem = processProblem(`${p.namespace}/${p.name}`, c.name, c.status, c.ready, c.everReady);
      if (!problem) continue;
      const path = /'(\/[^']+)'/.exec(problem.cause)?.[1];
      const sidecar = c.name === 'istio-proxy' && p.sidecar;
      const [uid, gid] = sidecar ? [PROXY_UID, PROXY_GID] : [p.appUid, p.appGid];
      const why = path && explain ? explain(path, uid, gid, sidecar) : undefined;
      out.push(why ? { ...problem, cause: `${problem.cause} [${why}]` } : problem);
    }
  }
  return out;
}

/** `pod default/x container istio-proxy: CrashLoopBackOff, exit code 1 (3 runs in a row): CAUSE`. */
export function describeProblem(p: ContainerProblem): string {
  const who = p.pod ? `pod ${p.pod} container ${p.container}` : p.container;
  const runs = p.failuresInARow > 1 ? ` (${p.failuresInARow} runs in a row)` : '';
  return `${who}: ${p.phase}, exit code ${p.exitCode}${runs}: ${p.cause}`;
}

/** What to run to see the whole output of a failing container. */
export function problemHint(p: ContainerProblem, stateDirFlag: string): string {
  if (!p.pod) return `see ${p.container}'s log under the state directory's logs/`;
  const [ns, name] = p.pod.split('/');
  return `mizzen logs ${name}${ns === 'default' ? '' : ` -n ${ns}`} -c ${p.container}${stateDirFlag}`;
}

/** Problems not reported yet (one report per failed run), remembering them in `seen`. */
export function unseenProblems(problems: readonly ContainerProblem[], seen: Set<string>): ContainerProblem[] {
  const out: ContainerProblem[] = [];
  for (const p of problems) {
    const key = `${p.pod ?? ''}\0${p.container}\0${p.finishedAt}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
