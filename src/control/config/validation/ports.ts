import { isDNS1123Label } from './hosts.ts';

/** Port numbers, port names and Istio's protocol names (`http`, `HTTP2`, `grpc-web`, ...). */
export function validatePort(port: unknown): string | undefined {
  if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) return undefined;
  return `port number ${String(port)} must be in the range 1..65535`;
}

export function validatePortName(name: string): string | undefined {
  return isDNS1123Label(name) ? undefined : `invalid port name: ${name}`;
}

export type Protocol = 'HTTP' | 'HTTPS' | 'HTTP2' | 'HTTP_PROXY' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UDP' | 'UNSUPPORTED';

const KNOWN: readonly Protocol[] = ['HTTP', 'HTTPS', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'UDP'];

/** Case-insensitive, as Istio's protocol.Parse. */
export function parseProtocol(s: string | undefined): Protocol {
  const up = (s ?? '').toUpperCase();
  return (KNOWN as readonly string[]).includes(up) ? (up as Protocol) : 'UNSUPPORTED';
}

export function isHTTPProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-WEB';
}

export function isTLSProtocol(p: Protocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

export function isTCPProtocol(p: Protocol): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'MONGO' || p === 'REDIS' || p === 'MYSQL';
}

/** Empty means "detect". */
export function validateProtocol(s: string | undefined): string | undefined {
  if (s && parseProtocol(s) === 'UNSUPPORTED') return `unsupported protocol: ${s}`;
  return undefined;
}
