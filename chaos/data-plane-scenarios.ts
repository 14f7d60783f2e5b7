/**
 * The data plane losing a process under load: a sidecar SIGKILLed (its capture rules stay in the
 * pod's namespace, so until it is back connections to its ports are refused: Istio's known
 * failure; `mizzen up`'s supervisor restarts it as the kubelet restarts istio-proxy), and the
 * server app SIGKILLed with two server replicas, where the client sidecar's retries and outlier
 * detection move traffic to the other replica.
 */
import { clientClusterStats, podsReady } from './chaos-mesh.ts';
import { meshManifests } from './manifests.ts';
import { failuresAfter, row, seconds, sleep, startLoad, until, type Scenario, type ScenarioContext } from './scenario.ts';

const OUTLIER = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: server, namespace: default}
spec:
  host: server.default.svc.cluster.local
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 15s, maxEjectionPercent: 50}
`;

type Proc = { pid: number; pod: string };

/** SIGKILL the first of `list()`, then wait for its pod to have the process again and be ready. */
async function killAndWatch(ctx: ScenarioContext, what: string, list: () => Proc[]): Promise<{ killedAt: number; restartedMs: number; readyMs: number; pid: number; pod: string }> {
  const victim = list()[0];
  if (!victim) throw new Error(`no ${what} process found`);
  const killedAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  ctx.log(`  ${what} of ${victim.pod} (pid ${victim.pid}) SIGKILLed`);
  const restarted = await until(`${what} restarted`, () => (list().some((p) => p.pod === victim.pod && p.pid !== victim.pid) ? Date.now() : undefined), 60_000);
  const ready = await until(`${victim.pod} ready again`, async () => ((await podsReady(ctx.mesh, victim.pod)) ? Date.now() : undefined), 60_000);
  return { killedAt, restartedMs: restarted - killedAt, readyMs: ready - killedAt, pid: victim.pid, pod: victim.pod };
}

function sidecarKill(side: 'client' | 'server'): Scenario {
  return {
    name: `sidecar-kill-${side}`,
    title: `the ${side}'s sidecar SIGKILLed${side === 'server' ? ' (2 server replicas)' : ''}, restarted by the supervisor`,
    manifests: () => meshManifests({ serverReplicas: side === 'server' ? 2 : 1 }),
    async run(ctx) {
      const total = ctx.quick ? 15 : 40;
      const load = startLoad(ctx, total);
      await sleep((ctx.quick ? 3 : 10) * 1000);
      const k = await killAndWatch(ctx, 'sidecar', () => ctx.mesh.sidecars(`${side}-`));
      const r = await load.result();
      const f = failuresAfter(r, k.killedAt);
      const windowMs = f.lastMs === undefined ? 0 : f.lastMs - k.killedAt;
      const refused = Object.entries(r.logged).filter(([m]) => /connect/i.test(m)).map(([m, n]) => `${n}× "${m}"`);
      return row(ctx, {
        scenario: `${side} sidecar SIGKILLed${side === 'server' ? ' (1 of 2 server pods)' : ''}`,
        seconds: total,
        r,
        recovery: `requests failed for ${seconds(windowMs)} after the kill; sidecar restarted after ${seconds(k.restartedMs)}, pod ready after ${seconds(k.readyMs)}`,
        recoveryMs: windowMs,
        nothingLost: r.failed === 0,
        expectZero: false,
        notes: [`${f.count} failures logged after the kill${refused.length ? `: ${refused.join(', ')}` : ''}`],
      });
    },
  };
}

export const clientSidecarKill = sidecarKill('client');
export const serverSidecarKill = sidecarKill('server');

export const appKill: Scenario = {
  name: 'app-kill',
  title: 'a server app SIGKILLed (2 replicas; retries and outlier detection)',
  manifests: () => meshManifests({ serverReplicas: 2, extra: [OUTLIER] }),
  async run(ctx) {
    const total = ctx.quick ? 15 : 40;
    const before = await clientClusterStats(ctx.mesh);
    const load = startLoad(ctx, total);
    await sleep((ctx.quick ? 3 : 10) * 1000);
    const k = await killAndWatch(ctx, 'app (fortio server)', () => ctx.mesh.apps('fortio', 'server-'));
    const r = await load.result();
    const after = await clientClusterStats(ctx.mesh);
    const d = (k2: string): number => (after[k2] ?? 0) - (before[k2] ?? 0);
    const f = failuresAfter(r, k.killedAt);
    const windowMs = f.lastMs === undefined ? 0 : f.lastMs - k.killedAt;
    return row(ctx, {
      scenario: 'server app SIGKILLed (1 of 2 replicas; retries + outlier detection)',
      seconds: total,
      r,
      recovery: `${f.count === 0 ? 'no request failed' : `requests failed for ${seconds(windowMs)}`}; app restarted after ${seconds(k.restartedMs)}, pod ready after ${seconds(k.readyMs)}`,
      recoveryMs: windowMs,
      nothingLost: r.failed === 0,
      expectZero: false,
      notes: [`client sidecar → server: upstream_rq_retry +${d('upstream_rq_retry')}, outlier ejections +${d('outlier_detection.ejections_total')}, upstream_rq_5xx +${d('upstream_rq_5xx')} (503: +${d('upstream_rq_503')}), upstream_cx_connect_fail +${d('upstream_cx_connect_fail')}`],
    });
  },
};
