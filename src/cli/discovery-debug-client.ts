import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { MizzenError } from '../lib/errors.ts';
import { parseListenAddress } from '../control/debug/listen-address.ts';

/**
 * Where discovery's debug server is when the user did not say: the local mesh's Unix socket
 * (`mizzen up` state in the current directory) when there is one, else istiod's 15014.
 */
export function defaultDiscoveryAddress(cwd: string): string {
  const socket = join(cwd, '.mizzen', 'discovery.sock');
  return existsSync(socket) ? `unix:${socket}` : '127.0.0.1:15014';
}

/**
 * GET a JSON document from discovery's debug server (`HOST:PORT`, `:PORT` or a Unix socket
 * `unix:/path`), for proxy-status and proxy-config.
 */
export function fetchDiscoveryJson(address: string, path: string, timeoutMs = 10_000, body?: unknown): Promise<unknown> {
  const a = parseListenAddress(address, 15014, '127.0.0.1');
  const method = body === undefined ? 'GET' : 'POST';
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const req = request(
      a.path ? { socketPath: a.path, path, method, headers } : { host: a.host === '0.0.0.0' ? '127.0.0.1' : a.host, port: a.port, path, method, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            reject(new MizzenError('USAGE', `discovery at ${address} answered ${path} with something that is not JSON (HTTP ${res.statusCode})`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const msg = (parsed as { error?: string }).error ?? `HTTP ${res.statusCode}`;
            reject(new MizzenError('USAGE', msg));
            return;
          }
          resolve(parsed);
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new MizzenError('USAGE', `cannot reach discovery's debug server at ${address}: ${err.message}`, {
          hint: 'is `mizzen discovery` running? pass --discovery-address HOST:PORT (its --http-addr, default 127.0.0.1:15014)',
        }),
      ),
    );
    req.end(payload);
  });
}
