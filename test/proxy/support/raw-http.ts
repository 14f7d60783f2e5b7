/** HTTP/1.1 written byte for byte (requests no client library would send), for strictness tests. */
import * as net from 'node:net';

export interface Exchange {
  status: number;
  head: string;
  body: string;
  /** The proxy closed the connection after answering. */
  closed: boolean;
}

/**
 * Send bytes as they are and read what comes back until the proxy closes the connection (or
 * 300 ms pass without a close after the last bytes: then `closed` is false).
 */
export function exchange(port: number, ...parts: string[]): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let raw = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      const end = raw.indexOf('\r\n\r\n');
      const head = end < 0 ? raw : raw.slice(0, end);
      let body = end < 0 ? '' : raw.slice(end + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), head, body, closed });
      s.destroy();
    };
    s.setEncoding('latin1');
    s.on('connect', async () => {
      for (const p of parts) {
        s.write(p, 'latin1');
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    s.on('data', (d: string) => {
      raw += d;
      clearTimeout(timer);
      // an answer that keeps the connection open: give the proxy a moment to close it, else report open
      timer = setTimeout(() => finish(false), 300);
    });
    s.on('error', reject);
    s.on('close', () => finish(true));
  });
}

export function dechunk(b: string): string {
  let out = '';
  for (let i = 0; ;) {
    const nl = b.indexOf('\r\n', i);
    const n = parseInt(b.slice(i, nl), 16);
    if (!(n > 0)) return out;
    out += b.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
}
