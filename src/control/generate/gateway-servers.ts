import type { Server } from '../../api/istio/gateway.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import { servicePortTargets } from './inbound-ports.ts';

/** One Gateway server bound to a router proxy, with the gateway it came from. */
export interface BoundServer {
  /** `ns/name` of the Gateway. */
  gateway: string;
  gatewayNamespace: string;
  server: Server;
  /** The port the gateway listens on: the server's port, or the target port of the gateway Service port it names. */
  port: number;
  /** The server's port as written (what VirtualService `match.port` and the Host header's port name). */
  serverPort: number;
  protocol: string;
  /** Hosts as `ns/host` entries split: namespace filter ('*' any) and host. */
  hosts: { namespace: string; host: string }[];
}

/**
 * Servers of every Gateway selecting this proxy, grouped by the port the proxy listens on
 * (ascending). As istiod (resolvePorts), a server port that is a port of a Service selecting the
 * gateway binds that port's target port (Istio's ingress task: `number: 80` on the default
 * gateway, Service 80 → 8080, listens on 8080); any other number binds as written (Bookinfo's
 * `number: 8080`).
 */
export function serversByPort(proxy: ProxyInfo, push: PushContext): Map<number, BoundServer[]> {
  const out = new Map<number, BoundServer[]>();
  const targets = servicePortTargets(proxy, push);
  for (const g of push.gatewaysFor(proxy)) {
    const ns = g.resource.metadata.namespace ?? 'default';
    for (const server of g.spec.servers ?? []) {
      const port = server.port?.number;
      if (!port || pinsClientCertificates(server)) continue;
      const hosts = (server.hosts ?? ['*']).map((h) => {
        const slash = h.indexOf('/');
        const hns = slash < 0 ? '*' : h.slice(0, slash);
        return { namespace: hns === '.' ? ns : hns, host: slash < 0 ? h : h.slice(slash + 1) };
      });
      const resolved = [...(targets.get(port) ?? [])].filter((t) => t !== port);
      for (const bound of resolved.length > 0 ? resolved.sort((a, b) => a - b) : [port]) {
        const list = out.get(bound) ?? [];
        list.push({ gateway: g.key, gatewayNamespace: ns, server, port: bound, serverPort: port, protocol: (server.port?.protocol ?? 'HTTP').toUpperCase(), hosts });
        out.set(bound, list);
      }
    }
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Client certificate pinning (verifyCertificateSpki/Hash) is not implemented: validate/apply
 * refuse it (control/config/support), and a server that still sets it is left out, failing
 * closed (its port refuses connections) rather than accepting certificates the pins reject.
 */
function pinsClientCertificates(s: Server): boolean {
  return (s.tls?.verifyCertificateSpki?.length ?? 0) > 0 || (s.tls?.verifyCertificateHash?.length ?? 0) > 0;
}

/** Is the server terminating HTTP (plain or after TLS termination)? */
export function serverIsHttp(b: BoundServer): boolean {
  if (b.protocol === 'HTTP' || b.protocol === 'HTTP2' || b.protocol === 'GRPC' || b.protocol === 'GRPC-WEB') return true;
  return b.protocol === 'HTTPS' && b.server.tls?.mode !== 'PASSTHROUGH' && b.server.tls?.mode !== 'AUTO_PASSTHROUGH';
}

/** Route config name for a server: `http.PORT` for plaintext, `https.PORT.NAME.GATEWAY.NS` for terminated TLS. */
export function gatewayRouteName(b: BoundServer): string {
  if (b.protocol !== 'HTTPS') return `http.${b.port}`;
  const [ns, name] = b.gateway.split('/') as [string, string];
  return `https.${b.port}.${b.server.name ?? b.server.port?.name ?? 'https'}.${name}.${ns}`;
}
