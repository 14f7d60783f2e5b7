/** Istio's protocol selection for a Kubernetes service port (name prefix, appProtocol, well-known ports). */

const PROTOCOLS: Readonly<Record<string, string>> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};

const WELL_KNOWN_PORTS: Readonly<Record<number, string>> = { 3306: 'MySQL' };

export const UNSUPPORTED = 'UnsupportedProtocol';

/** Parse a protocol name as Istio does (case-insensitive); UNSUPPORTED when unknown. */
export function parseProtocol(name: string): string {
  return PROTOCOLS[name.toLowerCase()] ?? UNSUPPORTED;
}

/** The protocol Istio assigns a service port. */
export function servicePortProtocol(port: number, name: string, protocol: string, appProtocol?: string): string {
  if (protocol.toUpperCase() === 'UDP') return 'UDP';
  let n = appProtocol !== undefined && appProtocol !== '' ? appProtocol : name;
  if (n === 'kubernetes.io/h2c') return 'HTTP2';
  if (n === 'kubernetes.io/ws' || n === 'kubernetes.io/wss') return 'HTTP';
  if (n.toLowerCase().startsWith('grpc-web')) return 'GRPC-Web';
  const dash = n.indexOf('-');
  if (dash >= 0) n = n.slice(0, dash);
  const p = parseProtocol(n);
  if (p === UNSUPPORTED && WELL_KNOWN_PORTS[port]) return WELL_KNOWN_PORTS[port];
  return p;
}
