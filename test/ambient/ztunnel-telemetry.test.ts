import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessLogLine, ConnectionTracker, type TrackedConnection } from '../../src/data/ztunnel/connection-tracker.ts';
import { silentLogger } from '../../src/lib/log.ts';
import type { ZService, ZWorkload } from '../../src/data/ztunnel/workload-model.ts';
import { ConnectionSeries, ZtunnelMetrics, type ConnectionLabels } from '../../src/data/ztunnel/ztunnel-metrics.ts';

/**
 * ztunnel's access log line and metric labels, field for field as Istio's ztunnel writes them for
 * the same connection (compared side by side in ztunnel-two-node-interop.test.ts, which needs
 * Istio's binary): `src.cluster`/`dst.cluster`, byte counts unflipped for outbound lines, the
 * locality labels after connection_security_policy.
 */
const workload = (name: string, locality?: ZWorkload['locality']): ZWorkload =>
  ({ name, namespace: 'demo', workloadName: name, canonicalName: name, canonicalRevision: 'latest', identity: `spiffe://cluster.local/ns/demo/sa/${name}`, clusterId: 'Kubernetes', locality }) as ZWorkload;
const service = { name: 'server', namespace: 'demo', hostname: 'server.demo.svc.cluster.local' } as ZService;

function tracked(labels: Partial<ConnectionLabels>, sent: number, received: number): TrackedConnection {
  const series = new ConnectionSeries({ reporter: 'source', source: workload('client'), sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/client', destination: workload('server'), destinationService: service, mtls: true, ...labels });
  return { series, srcAddr: '10.0.0.2:40000', dstAddr: '10.0.0.3:15008', hboneAddr: '10.0.0.3:8080', startedAt: Date.now(), sent, received, podUid: 'u', done: true };
}

describe("ztunnel's access log and metric labels (as Istio's ztunnel)", () => {
  it('writes the clusters and, outbound, what the client sent as bytes_sent', () => {
    // the client sent 7 bytes and got 27 back: Istio's ztunnel logs bytes_sent=7 bytes_recv=27 at the
    // source (outbound) and bytes_sent=27 bytes_recv=7 at the destination (inbound)
    const out = accessLogLine(tracked({ reporter: 'source' }, 27, 7));
    assert.match(out, /\tinfo\taccess\tconnection complete\tsrc\.addr=10\.0\.0\.2:40000 src\.workload="client" src\.namespace="demo" src\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client" src\.cluster="Kubernetes" dst\.addr=10\.0\.0\.3:15008 dst\.hbone_addr=10\.0\.0\.3:8080 dst\.service="server\.demo\.svc\.cluster\.local" dst\.workload="server" dst\.namespace="demo" dst\.identity="spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server" dst\.cluster="Kubernetes" direction="outbound" bytes_sent=7 bytes_recv=27 duration="\d+ms"\n$/);
    const inbound = accessLogLine(tracked({ reporter: 'destination' }, 27, 7), 'connection closed due to policy rejection: allow policies exist, but none allowed');
    assert.match(inbound, /\terror\taccess\tconnection complete\t.* direction="inbound" bytes_sent=27 bytes_recv=7 duration="\d+ms" error="connection closed due to policy rejection: allow policies exist, but none allowed"\n$/);
  });

  it('leaves the cluster out for an unknown workload', () => {
    const line = accessLogLine(tracked({ reporter: 'destination', source: undefined, sourcePrincipal: undefined, mtls: false }, 0, 0));
    assert.doesNotMatch(line, /src\.cluster/);
    assert.match(line, /dst\.cluster="Kubernetes"/);
  });

  it('appends source/destination region and zone once a workload is known, unknown when unset', () => {
    const key = tracked({ destination: workload('server', { region: 'r1', zone: 'z1' }) }, 0, 0).series.key('-');
    assert.match(key, /connection_security_policy="mutual_tls",source_region="unknown",source_zone="unknown",destination_region="r1",destination_zone="z1"$/);
    const none = new ConnectionSeries({ reporter: 'destination', source: undefined, sourcePrincipal: undefined, destination: undefined, destinationService: undefined, mtls: false }).key('DENY');
    assert.match(none, /connection_security_policy="unknown"$/, 'no locality labels without a workload (as ztunnel)');
  });

  it('counts bytes on the series the connection opened with, whatever ends it (as ztunnel), from the start', () => {
    const metrics = new ZtunnelMetrics();
    const lines: string[] = [];
    const tracker = new ConnectionTracker({ metrics, log: silentLogger(), accessLog: { write: (l) => lines.push(l) } });
    const { series, srcAddr, dstAddr, podUid } = tracked({ reporter: 'destination' }, 0, 0);
    const t = tracker.start({ series, srcAddr, dstAddr, podUid });
    assert.deepEqual([...metrics.received.keys()], [series.key('-')], 'the byte series exists once the connection is open');
    tracker.count(t, 11, 31);
    tracker.finish(t, 'DENY', 'connection closed due to policy change');
    assert.deepEqual([...metrics.received], [[series.key('-'), 11]]);
    assert.deepEqual([...metrics.sent], [[series.key('-'), 31]]);
    assert.deepEqual([...metrics.closed], [[series.key('DENY'), 1]]);
    assert.match(lines[0]!, /bytes_sent=31 bytes_recv=11 /);
  });
});
