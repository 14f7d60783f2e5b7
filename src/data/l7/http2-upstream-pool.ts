import * as http2 from 'node:http2';
import type { Cluster } from '../upstream/cluster.ts';
import type { Host } from '../upstream/host.ts';
import { istioHttpAlpn } from '../tls/istio-alpn.ts';

/**
 * HTTP/2 client sessions to upstream hosts, one multiplexed session per host (and transport),
 * opened through the cluster's connector (raw or TLS with the cluster's UpstreamTlsContext).
 */
export class Http2UpstreamPool {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly opening = new Map<string, ((s: http2.ClientHttp2Session | undefined, err: string) => void)[]>();

  get(cluster: Cluster, host: Host, done: (s: http2.ClientHttp2Session | undefined, err: string) => void): void {
    const tls = cluster.tlsFor(host);
    const key = `${cluster.config.name}|${host.key}`;
    const s = this.sessions.get(key);
    if (s && !s.closed && !s.destroyed) return done(s, '');
    const waiting = this.opening.get(key);
    if (waiting) {
      waiting.push(done);
      return;
    }
    this.opening.set(key, [done]);
    // Mesh TLS offers istio-h2 first (chain match on sniffed ports) and h2 next (what the server selects).
    const mesh = istioHttpAlpn(tls, 'istio-h2');
    const base = mesh && mesh !== tls ? { ...mesh, alpn: ['istio-h2', 'h2', ...mesh.alpn.slice(1).filter((p) => p !== 'h2')] } : tls;
    const spec = base ? { ...base, alpn: base.alpn.includes('h2') ? base.alpn : ['h2', ...base.alpn], key: `${base.key}|h2` } : undefined;
    cluster.breaker.connections++;
    cluster.stats.cxTotal++;
    cluster.connector.connectHost(host, spec, cluster.config.connectTimeoutMs, (err, socket) => {
      const list = this.opening.get(key) ?? [];
      this.opening.delete(key);
      if (err || !socket) {
        cluster.breaker.connections--;
        cluster.stats.cxConnectFail++;
        for (const d of list) d(undefined, err?.detail ?? 'connect failed');
        return;
      }
      const session = http2.connect(`http://${host.key}`, { createConnection: () => socket });
      session.on('error', () => undefined);
      const stopKeepalive = cluster.config.http2Keepalive ? keepalive(session, cluster.config.http2Keepalive) : undefined;
      session.once('close', () => {
        stopKeepalive?.();
        cluster.breaker.connections--;
        if (this.sessions.get(key) === session) this.sessions.delete(key);
      });
      session.once('goaway', () => {
        if (this.sessions.get(key) === session) this.sessions.delete(key);
      });
      this.sessions.set(key, session);
      for (const d of list) d(session, '');
    }, false, cluster.proxyHeaderFor(host));
  }

  close(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}

/**
 * Envoy's connection_keepalive: a PING every `intervalMs`; a PING unanswered for `timeoutMs`
 * closes the connection (its streams fail, the next request opens a new one). Returns the stop.
 */
function keepalive(session: http2.ClientHttp2Session, ka: { intervalMs: number; timeoutMs: number }): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const tick = setInterval(() => {
    if (deadline || session.destroyed) return;
    deadline = setTimeout(() => session.destroy(), ka.timeoutMs);
    deadline.unref();
    const sent = session.ping((err) => {
      if (err) return;
      clearTimeout(deadline);
      deadline = undefined;
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  }, ka.intervalMs);
  tick.unref();
  return () => {
    clearInterval(tick);
    clearTimeout(deadline);
  };
}
