import type { Logger } from '../../lib/log.ts';
import { socketPair } from '../../lib/socket-pair.ts';
import { HboneServer, respondError, type HboneRequest } from './hbone-server.ts';
import type { HboneCredentials } from './hbone-settings.ts';
import type { ListenerManager } from '../listener/listener-manager.ts';
import { relay } from '../ztunnel/relay.ts';

/** The internal listener HBONE tunnels are handed to (Istio's name). */
export const MAIN_INTERNAL = 'main_internal';

/**
 * `connect_terminate` of a waypoint or an HBONE-enabled sidecar (Istio: a 15008 listener with an
 * HCM that accepts CONNECT and routes it to the internal listener `main_internal`): HBONE in —
 * mutual TLS with the proxy's own certificate, HTTP/2, CONNECT `IP:PORT` only — and each tunnel
 * handed to `main_internal` as a connection whose destination is the CONNECT authority (a service
 * VIP and port, or a workload address), whose source is the client of the `Forwarded: for=` header (else the tunnel's peer)
 * and whose peer principal is the identity the client presented (the source workload's own, as
 * ztunnel connects with it). 503 when there is no `main_internal` listener (no config yet).
 */
export class ConnectTerminate {
  private readonly server: HboneServer;
  private readonly listeners: ListenerManager;
  private readonly log: Logger;
  private readonly localPrincipal: string;

  constructor(o: { credentials: HboneCredentials; listeners: ListenerManager; log: Logger; localPrincipal: string }) {
    this.listeners = o.listeners;
    this.log = o.log;
    this.localPrincipal = o.localPrincipal;
    this.server = new HboneServer({ credentials: o.credentials, log: o.log, onRequest: (req) => this.handle(req) });
  }

  listen(port: number, host?: string): Promise<number> {
    return this.server.listen(host ? { port, host } : { port });
  }

  updateCredentials(c: HboneCredentials): void {
    this.server.updateCredentials(c);
  }

  close(graceMs = 0): void {
    this.server.close(graceMs);
  }

  private handle(req: HboneRequest): void {
    const source = forwardedFor(req.headers.forwarded) ?? { ip: req.remoteAddress, port: req.remotePort };
    const [mine, theirs] = socketPair();
    const accepted = this.listeners.acceptInternal(MAIN_INTERNAL, theirs, {
      destinationIp: req.target.host,
      destinationPort: req.target.port,
      sourceIp: source.ip,
      sourcePort: source.port,
      peerPrincipal: req.peerIdentity ?? '',
      localPrincipal: this.localPrincipal,
    });
    if (!accepted) {
      mine.destroy();
      theirs.destroy();
      this.log.warn({ authority: req.authority }, 'HBONE tunnel refused: no main_internal listener yet (503)');
      respondError(req.stream, 503);
      return;
    }
    req.stream.respond({ ':status': 200 });
    relay(req.stream, mine, (error) => {
      if (error) this.log.debug({ authority: req.authority, err: error }, 'HBONE tunnel ended with an error');
    });
  }
}

/** `for="IP:PORT"` of a Forwarded header. */
function forwardedFor(value: string | string[] | undefined): { ip: string; port: number } | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const m = v ? /for="?\[?([0-9a-fA-F.:]+?)\]?:(\d+)"?/.exec(v) : null;
  return m ? { ip: m[1]!, port: Number(m[2]) } : undefined;
}
