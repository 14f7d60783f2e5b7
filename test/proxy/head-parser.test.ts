import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findHeadEnd, parseRequestHead, parseResponseHead } from '../../src/data/http1/head-parser.ts';
import { messageBuffer } from '../../src/data/http1/message-buffer.ts';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const req = (s: string) => {
  const b = bytes(s);
  return parseRequestHead(b, findHeadEnd(b));
};
const res = (s: string) => {
  const b = bytes(s);
  return parseResponseHead(b, findHeadEnd(b));
};

describe('HTTP/1.1 head parser', () => {
  it('finds the end of a head, also when the CRLFCRLF straddles the previous search position', () => {
    const b = bytes('GET / HTTP/1.1\r\nhost: a\r\n\r\nbody');
    assert.equal(findHeadEnd(b), b.length - 4);
    assert.equal(findHeadEnd(b, 24), b.length - 4);
    assert.equal(findHeadEnd(bytes('GET / HTTP/1.1\r\nhost: a\r\n')), -1);
  });

  it('parses the request line and lower-cases header names, known and unknown', () => {
    const h = req('POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Custom-Thing: v\r\nuser-agent: t\r\n\r\n');
    assert.ok(typeof h !== 'string');
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/a?b=1');
    assert.equal(h.versionMinor, 1);
    assert.deepEqual(h.headers.items, ['host', 'x', 'content-length', '3', 'x-custom-thing', 'v', 'user-agent', 't']);
  });

  it('trims values as String.prototype.trim does for latin1 (spaces, tabs, VT, FF, NBSP) and keeps inner colons', () => {
    const h = req('GET / HTTP/1.0\r\na:   x  \r\nb:\tv\t\r\nc: \u000bw\u000c\r\nd: \u00a0z\u00a0\r\ne:\r\nf: a:b:c\r\ng: \u001fq\r\n\r\n');
    assert.ok(typeof h !== 'string');
    assert.equal(h.versionMinor, 0);
    assert.deepEqual(h.headers.items, ['a', 'x', 'b', 'v', 'c', 'w', 'd', 'z', 'e', '', 'f', 'a:b:c', 'g', '\u001fq']);
  });

  it('reports malformed lines, bad names, methods and versions', () => {
    assert.match(String(req('GET / HTTP/1.1\r\nno colon here\r\n\r\n')), /malformed header line "no colon here"/);
    assert.match(String(req('GET / HTTP/1.1\r\n: empty name\r\n\r\n')), /malformed header line/);
    assert.match(String(req('GET / HTTP/1.1\r\nbad name: v\r\n\r\n')), /invalid header name "bad name"/);
    assert.match(String(req('GET / HTTP/1.1\r\n folded: v\r\n\r\n')), /invalid header name/);
    assert.equal(req('G@T / HTTP/1.1\r\n\r\n'), 'invalid method');
    assert.match(String(req('GET / HTTP/2.0\r\n\r\n')), /unsupported protocol version "HTTP\/2.0"/);
    assert.equal(req('GET\r\n\r\n'), 'malformed request line');
  });

  it('parses a status line with its reason and headers', () => {
    const h = res('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nDate: Sun\r\nConnection: keep-alive\r\n\r\n');
    assert.ok(typeof h !== 'string');
    assert.equal(h.status, 404);
    assert.equal(h.reason, 'Not Found');
    assert.deepEqual(h.headers.items, ['content-type', 'text/plain', 'date', 'Sun', 'connection', 'keep-alive']);
    assert.equal(res('HTTP/1.1 2x0 OK\r\n\r\n'), 'malformed status code');
    assert.equal(res('HTTX/1.1 200 OK\r\n\r\n'), 'malformed status line');
  });

  it('builds one buffer from a latin1 head and body chunks (Buffer and UTF-8 string)', () => {
    assert.equal(messageBuffer('HTTP/1.1 200 OK\r\n\r\n', undefined).toString('latin1'), 'HTTP/1.1 200 OK\r\n\r\n');
    assert.equal(messageBuffer('h\u00e9\r\n', [Buffer.from('ab'), 'ü']).toString('latin1'), 'h\u00e9\r\nab\u00c3\u00bc');
    assert.deepEqual(messageBuffer('x', 'é'), Buffer.concat([Buffer.from('x'), Buffer.from('é', 'utf8')]));
    assert.deepEqual(messageBuffer('x', Buffer.from([0, 255])), Buffer.from([0x78, 0, 255]));
  });
});
