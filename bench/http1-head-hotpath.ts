/**
 * `node bench/http1-head-hotpath.ts [--n 200000]`: CPU the proxy spends on one HTTP/1.1 head,
 * in-process (no sockets): the byte check, the parse of a sidecar-shaped request head (peer
 * metadata included) and of a response head, Envoy's request framing checks, and path
 * normalization (the common path, and one with dot segments and escapes). Prints ns of CPU per
 * head (process.cpuUsage, so other jobs on the machine do not count) and vCPU per 1,000 rps.
 */
import { parseArgs } from 'node:util';
import { headBytesClean } from '../src/data/http1/head-bytes.ts';
import { findHeadEnd, parseRequestHead, parseResponseHead, type ParsedRequestHead } from '../src/data/http1/head-parser.ts';
import { HeaderList } from '../src/data/http1/header-list.ts';
import { frameRequest } from '../src/data/http1/request-framing.ts';
import { normalizeRequestPath, type PathNormalization } from '../src/data/l7/path-normalizer.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' } } });
const N = Number(values.n);

const request = Buffer.from(
  'GET /reviews/0 HTTP/1.1\r\nhost: reviews:9080\r\nuser-agent: python-requests/2.31\r\naccept: */*\r\n' +
    'x-request-id: 5c6b4bb2-1a8d-4b6e-9d6f-5d9e8c1d2a3b\r\nx-forwarded-proto: http\r\nx-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7\r\n' +
    'x-envoy-peer-metadata-id: sidecar~10.244.0.11~productpage-v1-abc.default~default.svc.cluster.local\r\n' +
    `x-envoy-peer-metadata: ${'ChoKDkFQUF9DT05UQUlORVJTEggaBnJldmlld3MKGgoKQ0xVU1RFUl9JRBIMGgpLdWJlcm5ldGVz'.repeat(6)}\r\n\r\n`,
  'latin1',
);
const response = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 358\r\ndate: Mon, 07 Dec 2026 11:00:00 GMT\r\nx-envoy-upstream-service-time: 3\r\nserver: istio-envoy\r\n\r\n', 'latin1');
const reqEnd = findHeadEnd(request);
const resEnd = findHeadEnd(response);
const BASE: PathNormalization = { normalize: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' };
const framing = { acceptHttp10: false, defaultHostForHttp10: '', allowChunkedLength: false };
const parsed = parseRequestHead(request, reqEnd) as ParsedRequestHead;

let sink = 0;
function measure(name: string, bytes: number, fn: () => number): void {
  for (let i = 0; i < N / 10; i++) sink += fn();
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) sink += fn();
  const d = process.cpuUsage(t);
  const ns = ((d.user + d.system) * 1000) / N;
  process.stdout.write(`| ${name} | ${bytes || ''} | ${ns.toFixed(0)} | ${(ns / 1e6).toFixed(5)} |\n`);
}

process.stdout.write('| step | head bytes | ns CPU / head | vCPU per 1,000 rps |\n| --- | --- | --- | --- |\n');
measure('byte check (headBytesClean), request head', reqEnd, () => (headBytesClean(request, reqEnd - 4) ? 1 : 0));
measure('parse request head (byte check included)', reqEnd, () => (parseRequestHead(request, reqEnd) as ParsedRequestHead).headers.items.length);
measure('parse response head (byte check included)', resEnd, () => (parseResponseHead(response, resEnd) as { status: number }).status);
measure('request framing checks (Host, Content-Length, Transfer-Encoding)', 0, () => {
  const head = { ...parsed, headers: new HeaderList(parsed.headers.items.slice()) };
  const f = frameRequest(head, framing);
  return 'path' in f ? f.path.length : 0;
});
measure('path normalization, nothing to do (/reviews/0)', 0, () => (normalizeRequestPath('/reviews/0', BASE) as string).length);
measure('path normalization, /a/./b/../%63%2Fd?q=1', 0, () => (normalizeRequestPath('/a/./b/../%63%2Fd?q=1', BASE) as string).length);
if (sink === 42) process.stdout.write('\n');
