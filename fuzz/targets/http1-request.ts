import { BodyFramer } from '../../src/data/http1/body-framer.ts';
import { dechunk } from '../../src/data/http1/dechunk.ts';
import { findHeadEnd, hasBareLf, parseRequestHead, parseResponseHead } from '../../src/data/http1/head-parser.ts';
import { frameRequest } from '../../src/data/http1/request-framing.ts';
import { invariant, type FuzzTarget } from '../engine/fuzz-target.ts';
import { HTTP1_DICTIONARY } from './dictionaries.ts';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Feed `body` to a fresh framer in the pieces `cuts` gives; what it consumed and how it ended. */
function frame(mode: 'length' | 'chunked', length: number, body: Buffer, cuts: readonly number[]): { used: number; done: boolean; error: string | undefined } {
  const f = new BodyFramer();
  f.reset(mode, length);
  let used = 0;
  let start = 0;
  for (const end of [...cuts, body.length]) {
    const piece = body.subarray(start, Math.max(start, end));
    start = Math.max(start, end);
    let off = 0;
    while (off < piece.length && !f.done && !f.error) {
      const n = f.consume(piece, off);
      invariant(n >= 0 && n <= piece.length - off, `consume returned ${n} for ${piece.length - off} bytes`);
      if (n === 0) break;
      off += n;
      used += n;
    }
    if (f.done || f.error) break;
  }
  if (f.done) invariant(f.consume(Buffer.from('x'), 0) === 0, 'a finished body consumed more bytes');
  return { used, done: f.done, error: f.error };
}

/**
 * The proxy's HTTP/1.1 request reading, as the downstream connection does it: head end, head
 * parser (Envoy's byte rules), framing (Host, Content-Length, Transfer-Encoding), then the body
 * framer over what follows. Invariants: nothing throws; refusals are 400/431 (head) or
 * 400/426/501 (framing); a parsed method is a token and the target has no space or control
 * byte; the body framer ends at the same byte, with the same verdict, however the body is split
 * into reads (the property that keeps a proxy and its upstream agreeing on message ends).
 */
export const http1Request: FuzzTarget = {
  name: 'http1-request',
  description: 'HTTP/1.1 head parser + request framing + body framer (split-invariance)',
  dictionary: HTTP1_DICTIONARY,
  maxLength: 4096,
  watch: ['/src/data/http1/'],
  run(data) {
    hasBareLf(data);
    const end = findHeadEnd(data);
    if (end < 0) return;
    invariant(end >= 4 && end <= data.length, `head end ${end}`);
    const resp = parseResponseHead(data, end);
    if ('error' in resp) invariant(resp.status === 400 || resp.status === 431, `response head status ${resp.status}`);
    const head = parseRequestHead(data, end, 1 + (data[0] % 100));
    if ('error' in head) {
      invariant(head.status === 400 || head.status === 431, `head error status ${head.status}`);
      return;
    }
    invariant(TCHAR.test(head.method), `method ${JSON.stringify(head.method)}`);
    invariant(!/[\x00-\x20\x7f]/.test(head.target), `target ${JSON.stringify(head.target)}`);
    for (let i = 0; i < head.headers.items.length; i += 2) {
      invariant(TCHAR.test(head.headers.items[i]), `header name ${JSON.stringify(head.headers.items[i])}`);
      invariant(!/[\x00-\x08\x0a-\x1f\x7f]/.test(head.headers.items[i + 1]), `header value ${JSON.stringify(head.headers.items[i + 1])}`);
    }
    const fr = frameRequest(head, { acceptHttp10: (data[1] & 1) === 1, defaultHostForHttp10: 'default', allowChunkedLength: (data[2] & 1) === 1 });
    if ('status' in fr) {
      invariant([400, 426, 501].includes(fr.status), `framing status ${fr.status}`);
      return;
    }
    invariant(fr.path.length > 0, 'empty path');
    if (fr.body === 'none') return;
    const body = data.subarray(end);
    const whole = frame(fr.body, fr.length, body, []);
    // the same body in pieces cut where the input says (deterministic per input)
    const cuts: number[] = [];
    for (let i = 0, at = 0; i < 6 && at < body.length; i++) {
      at += 1 + (data[(end + i * 7) % data.length] % 9);
      cuts.push(at);
    }
    const split = frame(fr.body, fr.length, body, cuts);
    const bytewise = frame(fr.body, fr.length, body, Array.from({ length: Math.min(body.length, 512) }, (_, i) => i + 1));
    for (const [what, r] of [['split', split], ['byte by byte', bytewise]] as const) {
      invariant(r.done === whole.done && (r.error === undefined) === (whole.error === undefined), `${what}: done ${r.done}/${whole.done}, error ${r.error}/${whole.error}`);
      if (whole.done && body.length <= 512) invariant(r.used === whole.used, `${what}: body ends at ${r.used}, whole read ends at ${whole.used}`);
    }
    if (fr.body === 'length' && whole.done) invariant(whole.used === fr.length, `length body used ${whole.used} of ${fr.length}`);
    if (fr.body === 'chunked' && whole.done) dechunk(body.subarray(0, whole.used));
  },
};
