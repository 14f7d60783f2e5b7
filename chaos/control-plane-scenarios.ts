/**
 * The control plane under attack while 1,000 rps cross a sidecar pair: discovery SIGKILLed (the
 * mesh's supervisor restarts it) and discovery frozen with SIGSTOP. Proxies keep serving from the
 * config they have (Envoy's behaviour); recovery is discovery ready again and every proxy
 * reconnected and synced.
 */
import { meshManifests } from './manifests.ts';
import { failuresAfter, freezeDiscovery, row, seconds, sleep, startLoad, until, type Scenario, type ScenarioContext } from './scenario.ts';

const TYPES = ['cds', 'lds', 'eds', 'rds'] as const;

/** Every proxy connected since `sinceMs` and SYNCED on CDS/LDS/EDS/RDS: the time it happened. */
async function resynced(ctx: ScenarioContext, proxies: number, sinceMs: number, timeoutMs: number): Promise<number> {
  return until('every proxy reconnected and synced', async () => {
    const ready = await ctx.mesh.discoveryGet('/ready', 1000);
    if (ready.status !== 200) return undefined;
    const s = await ctx.mesh.syncz();
    const fresh = s.filter((p) => Date.parse(p.connectedAt) >= sinceMs && TYPES.every((t) => p.status[t] === 'SYNCED'));
    return fresh.length >= proxies ? Date.now() : undefined;
  }, timeoutMs);
}

/** Every proxy SYNCED (connected at any time) and discovery ready. */
async function synced(ctx: ScenarioContext, proxies: number, timeoutMs: number): Promise<number> {
  return until('every proxy synced', async () => {
    const ready = await ctx.mesh.discoveryGet('/ready', 1000);
    if (ready.status !== 200) return undefined;
    const s = await ctx.mesh.syncz();
    return s.filter((p) => TYPES.every((t) => p.status[t] === 'SYNCED')).length >= proxies ? Date.now() : undefined;
  }, timeoutMs);
}

export const controlPlaneKill: Scenario = {
  name: 'cp-kill',
  title: 'control plane SIGKILLed, restarted by the supervisor',
  manifests: () => meshManifests(),
  async run(ctx) {
    const warm = ctx.quick ? 3 : 10;
    const total = ctx.quick ? 15 : 40;
    await synced(ctx, 2, 60_000);
    const load = startLoad(ctx, total);
    await sleep(warm * 1000);
    const pid = ctx.mesh.discoveryPid();
    if (!pid) throw new Error('discovery is not running');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    ctx.log(`  discovery (pid ${pid}) SIGKILLed`);
    const restartedPid = await until('discovery restarted', () => {
      const p = ctx.mesh.discoveryPid();
      return p !== undefined && p !== pid ? p : undefined;
    }, 60_000);
    const back = await resynced(ctx, 2, killedAt, 120_000);
    const r = await load.result();
    const f = failuresAfter(r, killedAt);
    return row(ctx, {
      scenario: 'control plane SIGKILLed and restarted',
      seconds: total,
      r,
      recovery: `discovery restarted (pid ${restartedPid}), both proxies reconnected and SYNCED ${seconds(back - killedAt)} after the kill`,
      recoveryMs: back - killedAt,
      nothingLost: r.failed === 0,
      expectZero: true,
      notes: [`${f.count} failures logged after the kill`],
    });
  },
};

export const controlPlaneFreeze: Scenario = {
  name: 'cp-freeze',
  title: 'control plane frozen (SIGSTOP) 60 s',
  manifests: () => meshManifests(),
  async run(ctx) {
    const warm = ctx.quick ? 3 : 10;
    const freeze = ctx.quick ? 5 : 60;
    const total = warm + freeze + (ctx.quick ? 7 : 20);
    await synced(ctx, 2, 60_000);
    const load = startLoad(ctx, total);
    await sleep(warm * 1000);
    const { pid, frozenAt, resumedAt } = await freezeDiscovery(ctx, freeze);
    const back = await synced(ctx, 2, 120_000);
    const samePid = ctx.mesh.discoveryPid() === pid;
    const reconnected = (await ctx.mesh.syncz()).filter((p) => Date.parse(p.connectedAt) >= frozenAt).length;
    const r = await load.result();
    const f = failuresAfter(r, frozenAt);
    return row(ctx, {
      scenario: `control plane frozen (SIGSTOP) ${freeze} s`,
      seconds: total,
      r,
      recovery: `after SIGCONT discovery ready and both proxies SYNCED in ${seconds(back - resumedAt)} (${reconnected} of 2 proxies had reconnected; discovery ${samePid ? 'not restarted' : 'restarted by the supervisor'})`,
      recoveryMs: back - resumedAt,
      nothingLost: r.failed === 0,
      expectZero: true,
      notes: [`${f.count} failures logged from the freeze on`],
    });
  },
};
