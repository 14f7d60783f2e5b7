/**
 * Workload certificate rotation under load: every sidecar asks for 2-minute certificates (Istio's
 * SECRET_TTL through ProxyConfig proxyMetadata), so each rotates about once a minute (at half
 * its lifetime, as istio-agent); the client's connections to the server are recycled every 100
 * requests (DestinationRule maxRequestsPerConnection), so mTLS handshakes happen all the time with
 * whichever certificate each side holds. A certificate not rotated into use would expire within
 * 2 minutes and every new handshake after that would fail.
 */
import { clientClusterStats } from './chaos-mesh.ts';
import { meshManifests } from './manifests.ts';
import { row, sleep, startLoad, type Scenario } from './scenario.ts';

const RECYCLE = `apiVersion: networking.istio.io/v1
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
    const total = ctx.quick ? 20 : 330;
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
