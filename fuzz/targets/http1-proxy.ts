import * as net from 'node:net';
import { invariant, InvariantBroken, type FuzzTarget } from '../engine/fuzz-target.ts';
import { HTTP1_DICTIONARY } from './dictionaries.ts';
import { ProxyFixture } from './proxy-fixture.ts';

let fx: ProxyFixture | undefined;
let lastErrors = 0;

/** Send `data` on one connection (in up to three writes), close our side, collect what comes back until the proxy closes. */
function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(got)));
    s.on('connect', () => {
      const a = data.length > 0 ? 1 + (data[0] % data.length) : 0;
      const b = Math.min(data.length, a + 1 + (data[data.length - 1] ?? 0));
      s.write(data.subarray(0, a));
      setImmediate(() => {
        if (s.destroyed) return;
        s.write(data.subarray(a, b));
        setImmediate(() => {
          if (!s.destroyed) s.end(data.subarray(b));
        });
      });
    });
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new InvariantBroken('the proxy kept a half-closed downstream connection open for 5 s'));
    });
  });
}

/**
 * The proxy's HTTP/1.1 server path end to end: raw bytes from a client on a real socket through
 * a real listener (path normalization on), router, upstream pool and a Node app. Invariants: the
 * proxy answers only with HTTP/1.1 responses (or closes), closes a connection its client
 * half-closed, never crashes, and never sends the app a request the app's own parser refuses.
 */
export const http1Proxy: FuzzTarget = {
  name: 'http1-proxy',
  description: 'HTTP/1.1 downstream connection of a real proxy over loopback: parser, framing, router, upstream (smuggling check at the app)',
  dictionary: HTTP1_DICTIONARY,
  maxLength: 4096,
  watch: ['/src/data/l7/', '/src/data/http1/', '/src/data/listener/', '/src/data/upstream/'],
  timeoutMs: 8000,
  async setup() {
    fx = new ProxyFixture();
    await fx.start();
    lastErrors = 0;
  },
  async run(data) {
    const out = await exchange(fx!.port(), data);
    // HTTP/1.1 answers, or HTTP/2 frames (a SETTINGS frame first) to a client that opened with the h2c preface
    const h2 = data.subarray(0, 4).toString('latin1') === 'PRI ' && out.length >= 9 && out[3] === 4;
    if (out.length > 0 && !h2) invariant(out.subarray(0, 9).toString('latin1') === 'HTTP/1.1 ', `answer is not HTTP/1.1: ${JSON.stringify(out.subarray(0, 40).toString('latin1'))}`);
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
