import http from 'node:http';
import { join } from 'node:path';
import { MizzenError } from '../lib/errors.ts';

export const CONTROL_SOCKET = 'control.sock';

/** The CLI's side of a running mesh's control API (HTTP + JSON over a Unix socket). */
export class ControlClient {
  readonly socketPath: string;

  constructor(stateDir: string) {
    this.socketPath = join(stateDir, CONTROL_SOCKET);
  }

  get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    return this.request<T>('GET', path, query, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, {}, body);
  }

  private request<T>(method: string, path: string, query: Record<string, string | undefined>, body: unknown): Promise<T> {
    const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socketPath, method, path: qs ? `${path}?${qs}` : path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let value: unknown;
            try {
              value = text ? JSON.parse(text) : undefined;
            } catch {
              reject(new MizzenError('RUNTIME_FAILED', `bad answer from the mesh: ${text.slice(0, 200)}`));
              return;
            }
            if ((res.statusCode ?? 500) >= 400) {
              const msg = (value as { error?: string } | undefined)?.error ?? `HTTP ${res.statusCode}`;
              reject(new MizzenError('RUNTIME_FAILED', msg));
              return;
            }
            resolve(value as T);
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EACCES') {
          reject(new MizzenError('RUNTIME_NOT_ROOT', `permission denied on the mesh's control socket ${this.socketPath}`, { cause: err, hint: 'the mesh belongs to root: run this command with sudo' }));
          return;
        }
        const missing = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
        reject(
          new MizzenError('RUNTIME_FAILED', missing ? `no mesh is running here (${this.socketPath})` : `cannot reach the mesh: ${err.message}`, {
            cause: err,
            hint: missing ? 'start one with `mizzen up DIR`, or pass --state-dir' : undefined,
          }),
        );
      });
      req.end(payload);
    });
  }
}
