import * as net from 'node:net';
import { InvariantBroken, type FuzzTarget } from '../engine/fuzz-target.ts';
import { HTTP2_DICTIONARY } from './dictionaries.ts';
import { clientFrames, FINAL_PING } from './h2-frames.ts';
import { ProxyFixture } from './proxy-fixture.ts';

let fx: ProxyFixture | undefined;
let lastErrors = 0;

/** Write the frames, then wait until the proxy ACKs the final PING (it read everything) or closes. */
export function h2Exchange(socket: net.Socket, bytes: Buffer, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new InvariantBroken(`no PING ACK and no close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      // a PING ACK (type 6, flag 1) carrying our payload
      if (got.includes(Buffer.concat([Buffer.from([0, 0, 8, 6, 1, 0, 0, 0, 0]), FINAL_PING]))) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.write(bytes);
  });
}

/**
 * The proxy's HTTP/2 server path (h2c prior knowledge) end to end: frames built from the input
 * (header lists with or without pseudo-headers, odd names and values, CONTINUATION, resets,
 * window updates, settings, raw frames) reach the proxy's HTTP/2 connection, router and
 * HTTP/1.1 or HTTP/2 upstream. Invariants: the proxy reads every frame (answers the final PING)
 * or closes, never crashes, and never forwards a request the app's HTTP/1.1 parser refuses.
 */
export const http2Proxy: FuzzTarget = {
  name: 'http2-proxy',
  description: 'HTTP/2 (h2c) downstream connection of a real proxy: frames from the input, router, HTTP/1.1 and HTTP/2 upstreams',
  dictionary: HTTP2_DICTIONARY,
  maxLength: 2048,
  watch: ['/src/data/l7/', '/src/data/listener/', '/src/data/upstream/'],
  timeoutMs: 8000,
  async setup() {
    fx = new ProxyFixture();
    await fx.start();
    lastErrors = 0;
  },
  async run(data) {
    const s = net.connect(fx!.port(), '127.0.0.1');
    await h2Exchange(s, clientFrames(data));
    if (fx!.appParseErrors.length > lastErrors) {
      const e = fx!.appParseErrors.slice(lastErrors);
      lastErrors = fx!.appParseErrors.length;
      throw new InvariantBroken(`the app's parser refused what the proxy forwarded: ${e.join('; ')}`);
    }
  },
  async teardown() {
    await fx?.stop();
    fx = undefined;
  },
};
