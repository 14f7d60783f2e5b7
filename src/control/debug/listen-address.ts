import { MizzenError } from '../../lib/errors.ts';

export interface ListenAddress {
  host: string;
  port: number;
  /** Unix socket path, when the address is one. */
  path?: string;
}

/**
 * Parse a listen/dial address: `HOST:PORT`, `:PORT` (all interfaces for listening, loopback for
 * dialing), `[::1]:PORT`, or a Unix socket (`unix:/path`, `/path`, `./path`).
 */
export function parseListenAddress(address: string, defaultPort: number, defaultHost = '0.0.0.0'): ListenAddress {
  if (address.startsWith('unix:')) return { host: '', port: 0, path: address.slice(5) };
  if (address.startsWith('/') || address.startsWith('./')) return { host: '', port: 0, path: address };
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(address);
  if (!m) throw new MizzenError('USAGE', `invalid address ${JSON.stringify(address)}: want HOST:PORT, :PORT or unix:/path`);
  const host = m[1] ?? (m[2] || defaultHost);
  const port = m[3] !== undefined ? Number(m[3]) : defaultPort;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MizzenError('USAGE', `invalid port in ${JSON.stringify(address)}`);
  return { host, port };
}
