import * as net from 'node:net';
import type { Logger } from '../../lib/log.ts';
import { socketPair } from '../../lib/socket-pair.ts';
import { HbonePool } from '../hbone/hbone-pool.ts';
import { HBONE_PORT, type HboneCredentials } from '../hbone/hbone-settings.ts';
import { TUNNEL_ADDRESS } from '../upstream/endpoint-config.ts';
import type { InternalUpstream } from '../upstream/upstream-connector.ts';
import { relay } from '../ztunnel/relay.ts';

/** The internal listener name Istio's waypoint endpoints point at. */
export const CONNECT_ORIGINATE = 'connect_originate';

/**
 * The waypoint's `connect_originate` (Istio: an internal listener whose tcp_proxy tunnels to an
 * ORIGINAL_DST cluster on port 15008 over HTTP/2 CONNECT with mutual TLS): a connection to an
 * `envoy_internal_address` endpoint `IP:PORT` becomes an HBONE CONNECT `IP:PORT` to `IP:15008`
 * (the destination pod's ztunnel), presenting the waypoint's own identity; the peer must chain to
 * the mesh root (any mesh identity, as Istio's connect_originate cluster checks). Tunnels share
 * pooled HBONE connections as ztunnel's do. The caller gets one end of a socket pair.
 */
export function connectOriginate(o: { identity: string; credentials: () => HboneCredentials | undefined; pool: HbonePool; log: Logger; hbonePort?: number }): InternalUpstream {
  return (target, timeoutMs, done) => {
    const credentials = o.credentials();
    if (!credentials) {
      queueMicrotask(() => done({ kind: 'tls-failure', detail: 'the proxy has no certificate yet' }, undefined));
      return;
    }
    const authority = target.address.includes(':') ? `[${target.address}]:${target.port}` : `${target.address}:${target.port}`;
    // Istio's `tunnel.address` endpoint metadata: the HBONE peer when it is not the target itself (a waypoint)
    const via = parseHostPort(target.metadata[TUNNEL_ADDRESS]);
    const address = via?.host ?? target.address;
    const port = via?.port ?? o.hbonePort ?? HBONE_PORT;
    let finished = false;
    const timer = setTimeout(() => {
      finished = true;
      done({ kind: 'connect-timeout', detail: `HBONE to ${address}:${port} timed out after ${timeoutMs} ms` }, undefined);
    }, timeoutMs);
    o.pool
      .open(
        { sourceIdentity: o.identity, expectedIdentities: [], address, port, sourceAddress: '', credentials, connectSocket: () => net.connect({ host: address, port, noDelay: true }) },
        authority,
        {},
      )
      .then(
        (tunnel) => {
          clearTimeout(timer);
          if (finished) {
            tunnel.stream.destroy();
            return;
          }
          finished = true;
          const [mine, theirs] = socketPair();
          relay(mine, tunnel.stream, (error) => {
            if (error) o.log.debug({ authority, err: error }, 'connect_originate tunnel ended with an error');
          });
          done(undefined, theirs);
        },
        (err: Error) => {
          clearTimeout(timer);
          if (finished) return;
          finished = true;
          done({ kind: /TLS|IDENTITY/.test((err as { flag?: string }).flag ?? '') ? 'tls-failure' : 'connect-failure', detail: err.message }, undefined);
        },
      );
  };
}

function parseHostPort(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}
