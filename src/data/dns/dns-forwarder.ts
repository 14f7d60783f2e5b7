import type dgram from 'node:dgram';

/** Makes a UDP socket bound to PORT on ADDRESS (0: any port); `cb` once bound or failed. */
export type UdpSocketMaker = (port: number, address: string, cb: (err?: Error) => void) => dgram.Socket;

/**
 * Forward one raw DNS query over UDP to the first upstream resolver (port 53) and resolve with
 * its raw answer, or undefined on error or after `timeoutMs` — the DNS proxy then answers
 * SERVFAIL. Shared by ztunnel's in-pod proxy and the sidecar's.
 */
export function forwardUdp(query: Buffer, upstreams: readonly string[], makeSocket: UdpSocketMaker, timeoutMs = 2000): Promise<Buffer | undefined> {
  const upstream = upstreams[0];
  if (!upstream) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let done = false;
    const finish = (b: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // closed
      }
      resolve(b);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const sock = makeSocket(0, upstream.includes(':') ? '::' : '0.0.0.0', (err) => {
      if (err) return finish(undefined);
      sock.send(query, 53, upstream, (e) => e && finish(undefined));
    });
    sock.on('message', (m) => finish(m));
    sock.on('error', () => finish(undefined));
  });
}
