import type { Logger } from '../../lib/log.ts';
import type { L4Authorizer, L4Connection } from './l4-authorizer.ts';
import { ConnectionSeries, type ResponseFlag, type ZtunnelMetrics } from './ztunnel-metrics.ts';
import type { ZWorkload } from './workload-model.ts';

/**
 * One proxied connection's bookkeeping, as ztunnel's ConnectionResult: opened/closed counters,
 * bytes both ways, the access-log line when it ends (Istio's ztunnel format, with
 * `src.identity`/`dst.identity` on mutual TLS), and — for inbound ones — its authorization
 * context, so a policy change can close connections that no longer pass (ztunnel's
 * connection guard).
 */
export interface TrackedConnection {
  series: ConnectionSeries;
  srcAddr: string;
  dstAddr: string;
  hboneAddr?: string;
  srcWorkloadName?: string;
  dstWorkloadName?: string;
  startedAt: number;
  sent: number;
  received: number;
  /** Inbound: re-checked on policy changes (`bytes`: what has crossed so far, received from the client and sent to it). */
  authz?: { destination: ZWorkload; conn: L4Connection; close: (reason: string) => void; bytes: () => [received: number, sent: number] };
  /** The pod whose proxy owns it (its connections close when the pod leaves). */
  podUid: string;
  done: boolean;
}

export interface AccessLogSink {
  write(line: string): void;
}

export class ConnectionTracker {
  private readonly metrics: ZtunnelMetrics;
  private readonly log: Logger;
  private readonly accessLog: AccessLogSink | undefined;
  private readonly open = new Set<TrackedConnection>();

  constructor(o: { metrics: ZtunnelMetrics; log: Logger; accessLog?: AccessLogSink }) {
    this.metrics = o.metrics;
    this.log = o.log;
    this.accessLog = o.accessLog;
  }

  start(c: Omit<TrackedConnection, 'startedAt' | 'sent' | 'received' | 'done'>): TrackedConnection {
    const t: TrackedConnection = { ...c, startedAt: Date.now(), sent: 0, received: 0, done: false };
    const opened = t.series.key('-');
    this.metrics.add(this.metrics.opened, opened, 1);
    this.metrics.add(this.metrics.received, opened, 0);
    this.metrics.add(this.metrics.sent, opened, 0);
    this.open.add(t);
    return t;
  }

  /** Bytes from the downstream (received) and to it (sent), counted as they flow. */
  count(t: TrackedConnection, received: number, sent: number): void {
    t.received += received;
    t.sent += sent;
  }

  /** The connection ended: counters by response flag, bytes, the access log line. */
  finish(t: TrackedConnection, flag: ResponseFlag = '-', error?: string): void {
    if (t.done) return;
    t.done = true;
    this.open.delete(t);
    const key = t.series.key(flag);
    this.metrics.add(this.metrics.closed, key, 1);
    if (flag !== '-') this.metrics.add(this.metrics.failed, key, 1);
    // ztunnel counts bytes on the series the connection opened with (response_flags "-"), whatever
    // ends it, and shows that series from the start (0 when nothing crossed)
    const opened = t.series.key('-');
    this.metrics.add(this.metrics.received, opened, t.received);
    this.metrics.add(this.metrics.sent, opened, t.sent);
    this.accessLog?.write(accessLogLine(t, error));
  }

  /** Re-run authorization for open inbound connections (a policy or workload changed). */
  recheck(authorizer: L4Authorizer, lookup: (uid: string) => ZWorkload | undefined): void {
    for (const t of [...this.open]) {
      if (!t.authz) continue;
      const dest = lookup(t.authz.destination.uid) ?? t.authz.destination;
      const d = authorizer.check(dest, t.authz.conn);
      if (!d.allowed) {
        this.log.info({ src: t.srcAddr, dst: t.dstAddr, reason: d.reason }, 'connection closed due to policy rejection');
        // as ztunnel's late rejection: the bytes it carried until then are still counted and logged
        this.count(t, ...t.authz.bytes());
        t.authz.close(d.reason);
        this.finish(t, 'DENY', 'connection closed due to policy change');
      }
    }
  }

  /** Connections owned by a pod's proxies. */
  ownedBy(podUid: string): TrackedConnection[] {
    return [...this.open].filter((t) => t.podUid === podUid);
  }

  get size(): number {
    return this.open.size;
  }
}

function q(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** ztunnel's access log line: `TIME\tinfo\taccess\tconnection complete\tsrc.addr=... ...`. */
export function accessLogLine(t: TrackedConnection, error?: string): string {
  const l = t.series.labels;
  const mtls = l.mtls;
  const src = l.source;
  const dst = l.destination;
  const svc = l.destinationService;
  const outbound = l.reporter === 'source';
  const fields: [string, string | undefined][] = [
    ['src.addr', t.srcAddr],
    ['src.workload', q(t.srcWorkloadName ?? src?.name ?? src?.canonicalName)],
    ['src.namespace', q(src?.namespace)],
    ['src.identity', mtls ? q(l.sourcePrincipal) : undefined],
    ['src.cluster', q(src?.clusterId)],
    ['dst.addr', t.dstAddr],
    ['dst.hbone_addr', t.hboneAddr],
    ['dst.service', q(svc?.hostname)],
    ['dst.workload', q(t.dstWorkloadName ?? dst?.name ?? dst?.canonicalName)],
    ['dst.namespace', q(dst?.namespace)],
    ['dst.identity', mtls ? q(dst?.identity) : undefined],
    ['dst.cluster', q(dst?.clusterId)],
    ['direction', q(outbound ? 'outbound' : 'inbound')],
    // ztunnel flips the byte counters of a source-reported connection in its metrics (istio#32399)
    // and unflips them for its log: outbound, bytes_sent is what the client sent
    ['bytes_sent', String(outbound ? t.received : t.sent)],
    ['bytes_recv', String(outbound ? t.sent : t.received)],
    ['duration', q(`${Date.now() - t.startedAt}ms`)],
    ['error', q(error)],
  ];
  const kv = fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${new Date().toISOString()}\t${error ? 'error' : 'info'}\taccess\tconnection complete\t${kv}\n`;
}
