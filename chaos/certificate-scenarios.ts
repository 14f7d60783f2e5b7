/**
 * Workload certificate rotation under load: every sidecar asks for 2-minute certificates (Istio's
 * SECRET_TTL through ProxyConfig proxyMetadata), so each rotates about once a minute (at half
 * its lifetime, as istio-agent); the client's connections to the server are recycled every 100
 * requests (DestinationRule maxRequestsPerConnection), so mTLS handshakes happen all the time with
 * whichever certificate each side holds. A certificate not rotated into use would expire within
 * 2 minutes and every new handshake after that would fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientClusterStats } from './chaos-mesh.ts';
import { meshManifests } from './manifests.ts';
import { freezeDiscovery, row, seconds, sleep, startLoad, type Scenario } from './scenario.ts';

/** Client connections to the server recycled every 100 requests: new mTLS handshakes all along. */
export const RECYCLE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: server, namespace: default}
spec:
  host: server.default.svc.cluster.local
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 100}}
`;

export const certificateRotation: Scenario = {
  name: 'cert-rotation',
  title: 'workload certificates of 2 minutes rotated under load',
  manifests: () => meshManifests({ secretTtl: '2m', extra: [RECYCLE] }),
  async run(ctx) {
    const total = ctx.quick ? 20 : 600;
    const issuedBefore = await ctx.mesh.discoveryCounter('citadel_server_success_cert_issuance_count');
    const statsBefore = await clientClusterStats(ctx.mesh);
    const load = startLoad(ctx, total);
    await sleep(1000);
    const r = await load.result();
    const issued = (await ctx.mesh.discoveryCounter('citadel_server_success_cert_issuance_count')) - issuedBefore;
    const stats = await clientClusterStats(ctx.mesh);
    const handshakes = (stats.upstream_cx_total ?? 0) - (statsBefore.upstream_cx_total ?? 0);
    return row(ctx, {
      scenario: `certificate rotation, 2-minute workload certificates, ${(total / 60).toFixed(1)} min`,
      seconds: total,
      r,
      recovery: `${issued} certificates issued to the 2 sidecars during the run (rotations); ${handshakes} new mTLS connections client → server`,
      recoveryMs: undefined,
      nothingLost: r.failed === 0,
      expectZero: true,
      notes: [`client sidecar → server: upstream_cx_connect_fail +${(stats.upstream_cx_connect_fail ?? 0) - (statsBefore.upstream_cx_connect_fail ?? 0)}`],
    });
  },
};

/**
 * A control-plane outage longer than the workload certificates live: discovery (and its CA)
 * frozen for 3 minutes with 2-minute certificates. Open connections and the config the proxies
 * hold keep working; renewals fail (the proxies log it and keep the still-valid certificate);
 * connections between the sidecars resume the TLS sessions both verified before the certificates
 * expired (a resumption does not verify the peer certificate again, in Envoy as here). After
 * SIGCONT each sidecar renews within seconds (its retries are capped at 5 s once expired), and
 * renewing one side does not break the sessions the other still resumes: 0 failed requests.
 */
export const outagePastExpiry: Scenario = {
  name: 'cp-outage-expiry',
  title: 'control plane frozen 3 min with 2-minute certificates (outage past expiry)',
  manifests: () => meshManifests({ secretTtl: '2m', extra: [RECYCLE] }),
  async run(ctx) {
    const warm = ctx.quick ? 3 : 10;
    const outage = ctx.quick ? 10 : 180;
    const total = warm + outage + (ctx.quick ? 10 : 60);
    const load = startLoad(ctx, total);
    await sleep(warm * 1000);
    const { frozenAt, resumedAt } = await freezeDiscovery(ctx, outage);
    const r = await load.result();
    const after = r.failureTimes.filter((t) => t >= frozenAt);
    const first = after.length > 0 ? Math.min(...after) : undefined;
    const last = after.length > 0 ? Math.max(...after) : undefined;
    const logs = join(ctx.mesh.stateDir, 'logs');
    let renewalFailures = 0;
    const renewedAfter: string[] = [];
    for (const f of readdirSync(logs).filter((n) => n.endsWith('istio-proxy.log'))) {
      const text = readFileSync(join(logs, f), 'utf8');
      renewalFailures += (text.match(/certificate renewal failed|cannot get a workload certificate/g) ?? []).length;
      // each sidecar's first certificate issued after SIGCONT: how long the CA's return took to notice
      for (const line of text.split('\n')) {
        if (!line.includes('workload certificate issued')) continue;
        const at = Date.parse((/"time":"([^"]+)"/.exec(line) ?? [])[1] ?? '');
        if (at >= resumedAt) {
          renewedAfter.push(seconds(at - resumedAt));
          break;
        }
      }
    }
    const codes = Object.entries(r.logged).map(([m, n]) => `${n}× "${m}"`).join(', ');
    return row(ctx, {
      scenario: `control plane frozen ${outage / 60} min, 2-minute certificates (outage past expiry)`,
      seconds: total,
      r,
      recovery: first === undefined
        ? `no request failed; ${renewalFailures} failed renewals logged by the sidecars; sidecars renewed ${renewedAfter.join(', ') || 'n/a'} after SIGCONT`
        : `requests failed from ${seconds(first - frozenAt)} into the outage until ${seconds(last! - resumedAt)} after SIGCONT; ${renewalFailures} failed renewals logged by the sidecars; sidecars renewed ${renewedAfter.join(', ') || 'n/a'} after SIGCONT`,
      recoveryMs: last === undefined ? 0 : Math.max(0, last - resumedAt),
      nothingLost: r.failed === 0,
      expectZero: true,
      notes: [codes ? `fortio logged ${codes}` : 'fortio logged nothing'],
    });
  },
};
