/**
 * Root CA rotation under load, as Istio's plug-in CA root rotation runs: the mesh starts on a
 * plug-in CA (root A, intermediate A). (1) root-cert.pem gets root B beside root A: at their
 * next renewal the sidecars trust both. (2) The signing certificate moves to intermediate B
 * under root B (root-cert.pem still holds both): at their next renewal the sidecars hold
 * certificates under root B, while peers not renewed yet still present root A's, and each side
 * trusts both. (3) Root A is dropped from root-cert.pem: at their next renewal the sidecars
 * trust root B only. Discovery reloads the CA directory by itself (as istiod watches its
 * mounted cacerts); each step waits until every sidecar has renewed (2-minute certificates, so
 * about a minute), with connections recycled every 100 requests so new mTLS handshakes happen
 * all along. Zero failed requests expected.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECYCLE } from './certificate-scenarios.ts';
import { meshManifests } from './manifests.ts';
import { caCertificate, writePlugIn, type Ca } from './plug-in-ca.ts';
import { row, seconds, sleep, startLoad, until, type Scenario, type ScenarioContext } from './scenario.ts';

/** Each sidecar's first `workload certificate issued` at or after `since` (ms since the epoch), once all have one. */
async function everySidecarRenewed(ctx: ScenarioContext, since: number, what: string): Promise<number> {
  const logs = join(ctx.mesh.stateDir, 'logs');
  return until(what, () => {
    const files = readdirSync(logs).filter((n) => n.endsWith('istio-proxy.log'));
    let latest = 0;
    for (const f of files) {
      let first: number | undefined;
      for (const line of readFileSync(join(logs, f), 'utf8').split('\n')) {
        if (!line.includes('workload certificate issued')) continue;
        const at = Date.parse((/"time":"([^"]+)"/.exec(line) ?? [])[1] ?? '');
        if (at >= since) {
          first = at;
          break;
        }
      }
      if (first === undefined) return undefined;
      latest = Math.max(latest, first);
    }
    return files.length > 0 ? latest - since : undefined;
  }, 240_000);
}

/** The scenario with its own roots and intermediates (made when the runner prepares its mesh). */
export function rootRotationScenario(): Scenario {
  let cas: { rootA: Ca; rootB: Ca; intermediateA: Ca; intermediateB: Ca } | undefined;
  return {
    name: 'root-rotation',
    title: 'plug-in root CA rotated under load (new root added, workloads re-issued, old root removed)',
    manifests: () => meshManifests({ secretTtl: '2m', extra: [RECYCLE] }),
    prepare(stateDir) {
      const rootA = caCertificate('root A');
      const rootB = caCertificate('root B');
      cas = { rootA, rootB, intermediateA: caCertificate('intermediate A', rootA), intermediateB: caCertificate('intermediate B', rootB) };
      const ca = join(stateDir, 'ca');
      mkdirSync(ca, { recursive: true, mode: 0o700 });
      writePlugIn(ca, cas.intermediateA, rootA, [rootA]);
    },
    async run(ctx) {
      if (!cas) throw new Error('root-rotation: prepare() did not run');
      const { rootA, rootB, intermediateA, intermediateB } = cas;
      const ca = join(ctx.mesh.stateDir, 'ca');
      const quick = ctx.quick;
      // the three steps each take one renewal of every sidecar (about a minute with 2-minute certificates)
      const load = startLoad(ctx, quick ? 200 : 300);
      const started = Date.now();
      await sleep(10_000);
      const t1 = Date.now();
      writePlugIn(ca, intermediateA, rootA, [rootA, rootB]);
      ctx.log('  step 1: root B added to root-cert.pem beside root A');
      const s1 = await everySidecarRenewed(ctx, t1 + 2000, 'every sidecar renewed after root B was added');
      const t2 = Date.now();
      writePlugIn(ca, intermediateB, rootB, [rootA, rootB]);
      ctx.log(`  step 2 (every sidecar renewed ${seconds(s1)} after step 1): signing moved to intermediate B under root B`);
      const s2 = await everySidecarRenewed(ctx, t2 + 2000, 'every sidecar re-issued under root B');
      const t3 = Date.now();
      writePlugIn(ca, intermediateB, rootB, [rootB]);
      ctx.log(`  step 3 (every sidecar re-issued ${seconds(s2)} after step 2): root A removed from root-cert.pem`);
      const s3 = await everySidecarRenewed(ctx, t3 + 2000, 'every sidecar renewed after root A was removed');
      ctx.log(`  every sidecar trusts root B only ${seconds(s3)} after step 3; load runs on`);
      const r = await load.result();
      const after = r.failureTimes.filter((t) => t >= t1);
      const codes = Object.entries(r.logged).map(([m, n]) => `${n}× "${m}"`).join(', ');
      return row(ctx, {
        scenario: 'plug-in root CA rotated (root B added, intermediate B signs, root A removed)',
        seconds: Math.round((Date.now() - started) / 1000),
        r,
        recovery: `every sidecar renewed ${seconds(s1)} after root B was added, was re-issued under root B ${seconds(s2)} after the switch, and dropped root A ${seconds(s3)} after its removal; ${after.length} requests failed after step 1`,
        recoveryMs: undefined,
        nothingLost: r.failed === 0,
        expectZero: true,
        notes: [codes ? `fortio logged ${codes}` : 'fortio logged nothing'],
      });
    },
  };
}
