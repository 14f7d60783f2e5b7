import type { ConfigResource } from '../../../api/config-resource.ts';
import type { GatewaySpec, Server } from '../../../api/istio/gateway.ts';
import { isDNS1123Label, validateNamespaceSlashWildcardHostname } from './hosts.ts';
import { validateIPAddress } from './ip-addresses.ts';
import { at, type IssueList } from './issue-list.ts';
import { isHTTPProtocol, isTLSProtocol, parseProtocol, validatePort } from './ports.ts';
import { validateServerTls } from './tls-settings.ts';
import { validateUnixAddress } from './unix-address.ts';

const UNIX = 'unix://';
/** Set by Istio on Gateways it generates from Gateway API resources. */
const GATEWAY_SEMANTICS = 'internal.istio.io/gateway-semantics';

function validateServer(server: Server, path: string, out: IssueList, gatewaySemantics: boolean): void {
  if (!server.hosts || server.hosts.length === 0) out.error(at(path, 'hosts'), 'server config must contain at least one host');
  (server.hosts ?? []).forEach((h, i) => {
    for (const e of validateNamespaceSlashWildcardHostname(h, true, gatewaySemantics)) out.error(at(at(path, 'hosts'), i), e);
  });
  const bind = server.bind ?? '';
  const port = server.port;
  let portOk = true;
  if (!port) {
    out.error(at(path, 'port'), 'port is required');
    portOk = false;
  } else {
    const pp = at(path, 'port');
    if (parseProtocol(port.protocol) === 'UNSUPPORTED') {
      out.error(at(pp, 'protocol'), `invalid protocol "${port.protocol ?? ''}", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`);
      portOk = false;
    }
    if ((port.number ?? 0) > 0 || !bind.startsWith(UNIX)) {
      const e = validatePort(port.number ?? 0);
      if (e) {
        out.error(at(pp, 'number'), e);
        portOk = false;
      }
    }
    if ((port.targetPort ?? 0) > 0) {
      out.error(at(pp, 'targetPort'), 'targetPort has no impact on Gateways');
      portOk = false;
    }
    if (!port.name) {
      out.error(at(pp, 'name'), `port name must be set: number:${port.number ?? 0} protocol:"${port.protocol ?? ''}"`);
      portOk = false;
    }
  }
  if (bind.startsWith(UNIX)) {
    out.check(at(path, 'bind'), validateUnixAddress(bind.slice(UNIX.length)));
    if (port && port.number) out.error(at(path, 'bind'), `port number must be 0 for unix domain socket: ${port.number}`);
  } else if (bind !== '') out.check(at(path, 'bind'), validateIPAddress(bind));
  validateServerTls(server.tls, at(path, 'tls'), out);
  if (portOk && port) {
    const p = parseProtocol(port.protocol);
    if (isTLSProtocol(p) && !server.tls) out.error(at(path, 'tls'), 'server must have TLS settings for HTTPS/TLS protocols');
    else if (!isTLSProtocol(p) && server.tls) {
      if (isHTTPProtocol(p)) {
        const t = server.tls;
        // Unset mode is PASSTHROUGH (the enum's zero value): an httpsRedirect-only block is fine.
        const passthrough = t.mode === undefined || t.mode === 'PASSTHROUGH' || t.mode === 'AUTO_PASSTHROUGH';
        if (!passthrough || t.caCertificates || t.privateKey || t.serverCertificate) {
          out.error(at(path, 'tls'), 'server cannot have TLS settings for plain text HTTP ports');
        }
      } else out.error(at(path, 'tls'), 'server cannot have TLS settings for non HTTPS/TLS ports');
    }
  }
}

export function validateGateway(r: ConfigResource<GatewaySpec>, out: IssueList): void {
  const gatewaySemantics = r.metadata.annotations?.[GATEWAY_SEMANTICS] === 'gateway';
  if (!isDNS1123Label(r.metadata.name) && !gatewaySemantics) out.error('metadata.name', `invalid gateway name: "${r.metadata.name}"`);
  const servers = r.spec.servers ?? [];
  if (servers.length === 0) out.error('spec.servers', 'gateway must have at least one server');
  const names = new Set<string>();
  servers.forEach((s, i) => {
    const p = at('spec.servers', i);
    if (!s) {
      out.error(p, 'server may not be nil');
      return;
    }
    validateServer(s, p, out, gatewaySemantics);
    if (s.port) {
      const name = s.port.name ?? '';
      if (names.has(name)) out.error(at(p, 'port.name'), `port names in servers must be unique: duplicate name ${name}`);
      names.add(name);
      if (!isHTTPProtocol(parseProtocol(s.port.protocol)) && s.tls?.httpsRedirect) out.warn(at(p, 'tls.httpsRedirect'), 'tls.httpsRedirect should only be used with http servers');
    }
  });
}
