import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyFramer } from '../../src/data/http1/body-framer.ts';

function framed(body: string): { used: number; done: boolean; error: string | undefined } {
  const f = new BodyFramer();
  f.reset('chunked');
  const b = Buffer.from(body, 'latin1');
  const used = f.consume(b, 0);
  return { used, done: f.done, error: f.error };
}

/**
 * The chunked body framer reads trailers as header fields (RFC 9112 7.1.2), as Envoy's codec does:
 * a trailer line without a token name and colon, with a control byte or an obs-fold is an error,
 * never forwarded raw. Found by the http1-proxy fuzz target: a trailer line `_` was relayed to the
 * upstream, whose parser refused it (the two disagreed on the message).
 */
describe('BodyFramer: chunked trailers', () => {
  it('accepts well-formed trailers and ends after the empty line', () => {
    const body = '5\r\nhello\r\n0\r\nx-t: 1\r\ngrpc-status:0\r\n\r\n';
    assert.deepEqual(framed(`${body}NEXT`), { used: body.length, done: true, error: undefined });
    assert.deepEqual(framed('0\r\nx-t: a\tb\r\n\r\n').error, undefined);
  });

  it('refuses trailer lines that are not header fields', () => {
    for (const bad of ['transfer-encoding: chunked', 'Content-Length: 5', 'HOST: x', '_', 'no-colon', ': empty-name', 'na me: v', 'x: a\x00b', 'x: a\x7f', ' folded: x', '\tx: y', 'x\x01: y', 'x: a\nb']) {
      const r = framed(`0\r\nx-t: 1\r\n${bad}\r\n\r\n`);
      assert.ok(r.error, `${JSON.stringify(bad)} accepted`);
    }
  });

  it('reads chunk extensions by their grammar (token, =, quoted string), refusing anything else', () => {
    for (const ok of ['5;a\r\nhello\r\n0\r\n\r\n', '5;a=b;c="x y;\\"z"\r\nhello\r\n0\r\n\r\n', '5 ; a = b\r\nhello\r\n0\r\n\r\n']) {
      assert.deepEqual(framed(ok).error, undefined, ok);
    }
    // found by the http1-proxy fuzz target: relayed raw, refused by the upstream's parser
    for (const bad of ['5;x=expect: 100-continue\r\nhello\r\n0\r\n\r\n', '5;a=(b)\r\nhello\r\n0\r\n\r\n', '5;a="unterminated\r\nhello\r\n0\r\n\r\n', '5;a=\x01\r\nhello\r\n0\r\n\r\n', '5;\r\nhello\r\n0\r\n\r\n', '5;a=\r\nhello\r\n0\r\n\r\n', '5;a b\r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n0;\r\n\r\n']) {
      assert.ok(framed(bad).error, `${JSON.stringify(bad)} accepted`);
    }
  });
});
