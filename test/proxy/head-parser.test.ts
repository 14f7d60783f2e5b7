import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findHeadEnd, hasBareLf, parseRequestHead, parseResponseHead, type HeadError, type ParsedRequestHead, type ParsedResponseHead } from '../../src/data/http1/head-parser.ts';
import { headBytesClean } from '../../src/data/http1/head-bytes.ts';
import { messageBuffer } from '../../src/data/http1/message-buffer.ts';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const req = (s: string, maxFields?: number): ParsedRequestHead | HeadError => {
  const b = bytes(s);
  return parseRequestHead(b, findHeadEnd(b), maxFields);
};
const res = (s: string): ParsedResponseHead | HeadError => {
  const b = bytes(s);
  return parseResponseHead(b, findHeadEnd(b));
};
/** The error a head gets, or 'ok'. */
const err = (h: object): string => ('error' in h ? String((h as HeadError).error) : 'ok');
function ok<T extends object>(h: T | HeadError): T {
  assert.ok(!('error' in h), err(h));
  return h as T;
}

describe('HTTP/1.1 head parser', () => {
  it('finds the end of a head, also when the CRLFCRLF straddles the previous search position', () => {
    const b = bytes('GET / HTTP/1.1\r\nhost: a\r\n\r\nbody');
    assert.equal(findHeadEnd(b), b.length - 4);
    assert.equal(findHeadEnd(b, 24), b.length - 4);
    assert.equal(findHeadEnd(bytes('GET / HTTP/1.1\r\nhost: a\r\n')), -1);
  });

  it('parses the request line and lower-cases header names, known and unknown', () => {
    const h = ok(req('POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Custom-Thing: v\r\nuser-agent: t\r\n\r\n'));
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/a?b=1');
    assert.equal(h.versionMinor, 1);
    assert.deepEqual(h.headers.items, ['host', 'x', 'content-length', '3', 'x-custom-thing', 'v', 'user-agent', 't']);
  });

  it('trims optional whitespace (SP, HTAB) around values and keeps inner colons and obs-text', () => {
    const h = ok(req('GET / HTTP/1.0\r\na:   x  \r\nb:\tv\t\r\ne:\r\nf: a:b:c\r\ng: \u00a0z\u00ff\r\n\r\n'));
    assert.equal(h.versionMinor, 0);
    assert.deepEqual(h.headers.items, ['a', 'x', 'b', 'v', 'e', '', 'f', 'a:b:c', 'g', '\u00a0z\u00ff']);
  });

  it('unfolds obs-fold as Envoy does (CRLF removed, the whitespace kept)', () => {
    const h = ok(req('GET / HTTP/1.1\r\nx: a\r\n b\r\ny: c\r\n\t\td\r\n\r\n'));
    assert.deepEqual(h.headers.items, ['x', 'a b', 'y', 'c\t\td']);
  });

  it('reports malformed lines, bad names, methods, targets and versions', () => {
    assert.match(err(req('GET / HTTP/1.1\r\nno colon here\r\n\r\n')), /malformed header line "no colon here"/);
    assert.match(err(req('GET / HTTP/1.1\r\n: empty name\r\n\r\n')), /malformed header line/);
    assert.match(err(req('GET / HTTP/1.1\r\nbad name: v\r\n\r\n')), /invalid header name "bad name"/);
    assert.match(err(req('GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n')), /invalid header name "Transfer-Encoding "/);
    assert.match(err(req('GET / HTTP/1.1\r\n folded: v\r\n\r\n')), /unsupported protocol version|malformed/, 'a continuation of the request line');
    assert.equal(err(req('G@T / HTTP/1.1\r\n\r\n')), 'invalid method');
    assert.equal(err(req('FOO / HTTP/1.1\r\n\r\n')), 'unknown method "FOO"');
    assert.equal(err(req('get / HTTP/1.1\r\n\r\n')), 'unknown method "get"');
    assert.equal(err(req('PROPFIND / HTTP/1.1\r\n\r\n')), 'ok');
    assert.match(err(req('GET / HTTP/2.0\r\n\r\n')), /unsupported protocol version "HTTP\/2.0"/);
    assert.equal(err(req('GET\r\n\r\n')), 'malformed request line');
    assert.equal(err(req('GET  / HTTP/1.1\r\n\r\n')), 'invalid character in the request target');
    assert.equal(err(req('GET /a b HTTP/1.1\r\n\r\n')), 'invalid character in the request target');
    assert.equal(err(req('GET /caf\u00e9 HTTP/1.1\r\n\r\n')), 'invalid character in the request target');
  });

  it('refuses control characters, NUL and bare CR/LF anywhere in a head', () => {
    assert.equal(err(req('GET /a\u0000b HTTP/1.1\r\n\r\n')), 'invalid character in the message head');
    assert.equal(err(req('GET /a\tb HTTP/1.1\r\n\r\n')), 'invalid character in the request target');
    assert.equal(err(req('GET / HTTP/1.1\r\nx: a\u0000b\r\n\r\n')), 'invalid character in the message head');
    assert.equal(err(req('GET / HTTP/1.1\r\nx: a\u000bb\r\n\r\n')), 'invalid character in the message head');
    assert.equal(err(req('GET / HTTP/1.1\r\nx: a\u007fb\r\n\r\n')), 'invalid character in the message head');
    assert.equal(err(req('GET / HTTP/1.1\r\nx: a\nTransfer-Encoding: chunked\r\n\r\n')), 'bare CR or LF in the message head');
    assert.equal(err(req('GET / HTTP/1.1\r\nx: a\rb\r\n\r\n')), 'bare CR or LF in the message head');
    assert.equal(err(req('GET / HTTP/1.1\nHost: a\r\n\r\n')), 'bare CR or LF in the message head');
    assert.equal(err(res('HTTP/1.1 200 OK\r\nx: a\nSet-Cookie: b\r\n\r\n')), 'bare CR or LF in the message head');
    assert.equal(hasBareLf(bytes('GET / HTTP/1.1\nHost: a\n')), true);
    assert.equal(hasBareLf(bytes('GET / HTTP/1.1\r\nHost: a\r\n')), false);
  });

  it('finds forbidden bytes four at a time exactly as the byte rule says (any alignment, 50,000 generated heads)', () => {
    const rule = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n|\r\n[ \t]/;
    const pieces = ['a', 'bc', 'defgh', ':', ' ', '\t', '\r', '\n', '\r\n', '\r\n', '\r\n ', '\r\n\t', '\x00', '\x01', '\x0b', '\x1f', '\x7f', '\x80', '\xff', 'x-envoy: '];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const mismatches: string[] = [];
    for (let n = 0; n < 50_000; n++) {
      let s = 'GET / HTTP/1.1';
      for (let i = rand(24); i > 0; i--) s += rand(10) < 7 ? 'abcdefgh'.slice(0, 1 + rand(8)) : pieces[rand(pieces.length)];
      const pad = rand(4);
      const buf = Buffer.from(`${'.'.repeat(pad)}${s}\r\n\r\n`, 'latin1').subarray(pad);
      if (headBytesClean(buf, buf.length - 4) !== !rule.test(s)) mismatches.push(JSON.stringify(s));
    }
    assert.deepEqual(mismatches.slice(0, 5), []);
  });

  it('answers 431 beyond the header field limit (Envoy: max_headers_count, default 100)', () => {
    const head = (n: number) => `GET / HTTP/1.1\r\n${Array.from({ length: n }, (_, i) => `x-${i}: v\r\n`).join('')}\r\n`;
    assert.equal(ok(req(head(100))).headers.items.length, 200);
    const over = req(head(101));
    assert.deepEqual(over, { error: 'more than 100 header fields', status: 431 });
    assert.equal(err(req(head(11), 10)), 'more than 10 header fields');
  });

  it('parses a status line with its reason and headers', () => {
    const h = ok(res('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nDate: Sun\r\nConnection: keep-alive\r\n\r\n'));
    assert.equal(h.status, 404);
    assert.equal(h.reason, 'Not Found');
    assert.deepEqual(h.headers.items, ['content-type', 'text/plain', 'date', 'Sun', 'connection', 'keep-alive']);
    assert.equal(err(res('HTTP/1.1 2x0 OK\r\n\r\n')), 'malformed status code');
    assert.equal(err(res('HTTX/1.1 200 OK\r\n\r\n')), 'malformed status line');
  });

  it('builds one buffer from a latin1 head and body chunks (Buffer and UTF-8 string)', () => {
    assert.equal(messageBuffer('HTTP/1.1 200 OK\r\n\r\n', undefined).toString('latin1'), 'HTTP/1.1 200 OK\r\n\r\n');
    assert.equal(messageBuffer('h\u00e9\r\n', [Buffer.from('ab'), 'ü']).toString('latin1'), 'h\u00e9\r\nab\u00c3\u00bc');
    assert.deepEqual(messageBuffer('x', 'é'), Buffer.concat([Buffer.from('x'), Buffer.from('é', 'utf8')]));
    assert.deepEqual(messageBuffer('x', Buffer.from([0, 255])), Buffer.from([0x78, 0, 255]));
  });
});
