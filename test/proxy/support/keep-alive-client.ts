import * as net from 'node:net';
import * as tls from 'node:tls';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 keep-alive connection held open by the test (a warm connection, as a pooling
 * client keeps it): requests go one after another on the same socket, so a test can see what a
 * proxy does to connections that existed before a config change (`connection: close`, a close).
 */
export class KeepAliveConnection {
  readonly socket: net.Socket;
  /** Resolves when the socket closes (from either side). */
  readonly closed: Promise<void>;
  isClosed = false;
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      this.waiting?.();
      resolve();
    }));
  }

  static open(port: number, opts: { localAddress?: string; tls?: tls.ConnectionOptions } = {}): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ host: '127.0.0.1', port, ...opts.tls }, () => resolve(new KeepAliveConnection(s)))
        : net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress }, () => resolve(new KeepAliveConnection(s)));
      s.once('error', reject);
    });
  }

  /** Send a request and read its response; rejects when the connection closes first. */
  async request(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
    if (this.isClosed) throw new Error('connection closed');
    const lines = [`${method} ${path} HTTP/1.1`, 'host: test.local', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    for (;;) {
      const r = this.parse();
      if (r) return r;
      if (this.isClosed) throw new Error('connection closed before a response');
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  private parse(): RawResponse | undefined {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...headerLines] = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of headerLines) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const status = Number(statusLine!.split(' ')[1]);
    let rest = this.buf.subarray(end + 4);
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let off = 0;
      for (;;) {
        const eol = rest.indexOf('\r\n', off);
        if (eol < 0) return undefined;
        const size = parseInt(rest.subarray(off, eol).toString(), 16);
        if (rest.length < eol + 2 + size + 2) return undefined;
        if (size === 0) {
          off = eol + 4;
          break;
        }
        parts.push(rest.subarray(eol + 2, eol + 2 + size));
        off = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
      rest = rest.subarray(off);
    } else {
      const n = Number(headers['content-length'] ?? 0);
      if (rest.length < n) return undefined;
      body = rest.subarray(0, n);
      rest = rest.subarray(n);
    }
    this.buf = rest;
    return { status, headers, body: body.toString() };
  }

  close(): void {
    this.socket.destroy();
  }
}
