import type { Protocol } from './service.ts';

/** Istio's protocol names, case-insensitive (protocol.Parse); undefined when not one of them. */
export function parseProtocol(name: string | undefined): Protocol | undefined {
  switch ((name ?? '').toLowerCase()) {
    case 'tcp':
      return 'TCP';
    case 'udp':
      return 'UDP';
    case 'grpc':
      return 'GRPC';
    case 'grpc-web':
      return 'GRPC-Web';
    case 'http':
    case 'http_proxy': // only meaningful for Sidecar egress listeners; HTTP everywhere else
      return 'HTTP';
    case 'http2':
      return 'HTTP2';
    case 'https':
      return 'HTTPS';
    case 'tls':
      return 'TLS';
    case 'mongo':
      return 'MONGO';
    case 'redis':
      return 'REDIS';
    case 'mysql':
      return 'MYSQL';
    default:
      return undefined;
  }
}

/** Ports on which Istio never sniffs: without a declared protocol they are plain TCP. */
const WELL_KNOWN_PORTS = new Set([25, 53, 3306, 27017]);

/**
 * Protocol of a Kubernetes service port, as Istio decides it (kube.ConvertProtocol): UDP ports
 * are UDP; otherwise `appProtocol` if set (including Kubernetes' `kubernetes.io/h2c|ws|wss`),
 * else the port name's prefix before the first `-` (`http-web` → HTTP, `grpc-web…` → GRPC-Web).
 * Nothing recognised → UNSUPPORTED (the proxy sniffs), except well-known non-HTTP ports → TCP.
 */
export function kubePortProtocol(port: number, name: string | undefined, protocol: string | undefined, appProtocol: string | undefined): Protocol {
  if ((protocol ?? 'TCP').toUpperCase() === 'UDP') return 'UDP';
  let label = name ?? '';
  if (appProtocol !== undefined && appProtocol !== '') {
    switch (appProtocol) {
      case 'kubernetes.io/h2c':
        return 'HTTP2';
      case 'kubernetes.io/ws':
        return 'HTTP';
      case 'kubernetes.io/wss':
        return 'HTTPS';
    }
    label = appProtocol;
  }
  if (label.toLowerCase().startsWith('grpc-web')) return 'GRPC-Web';
  const dash = label.indexOf('-');
  const parsed = parseProtocol(dash >= 0 ? label.slice(0, dash) : label);
  if (parsed) return parsed;
  return WELL_KNOWN_PORTS.has(port) ? 'TCP' : 'UNSUPPORTED';
}

/** Protocol of a ServiceEntry/Gateway/Sidecar port: the declared name, or UNSUPPORTED (sniffed). */
export function declaredProtocol(protocol: string | undefined): Protocol {
  return parseProtocol(protocol) ?? 'UNSUPPORTED';
}
