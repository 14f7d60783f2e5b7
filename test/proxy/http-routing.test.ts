import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { cla, edsCluster, httpListener, route, routeConfig, staticCluster, vhost } from './support/envoy-builders.ts';
import { EchoServer, type EchoReply } from './support/echo-server.ts';
import { request } from './support/http-client.ts';
import { startHarness, waitUntil, type Harness } from './support/proxy-harness.ts';

describe('HTTP routing (lean HTTP/1.1 path)', () => {
  let h: Harness;
  let v1: EchoServer;
  let v2: EchoServer;
  let port: number;

  before(async () => {
    v1 = await new EchoServer('v1').start();
    v2 = await new EchoServer('v2').start();
    h = await startHarness();
    await h.push({
      clusters: [staticCluster('v1', [['127.0.0.1', v1.port]]), edsCluster('v2'), staticCluster('dns', [['localhost', v1.port]], { type: 'STRICT_DNS', dnsLookupFamily: 'V4_ONLY' })],
      endpoints: [cla('v2', [['127.0.0.1', v2.port]])],
      listeners: [httpListener('0.0.0.0_9080', 9080, '9080', {}, { serverName: 'istio-envoy', useRemoteAddress: { value: true } })],
      routes: [routeConfig('9080', [
        vhost('reviews', ['reviews', 'reviews:9080', '*.reviews.svc'], [
          route({ prefix: '/', headers: [{ name: 'end-user', stringMatch: { exact: 'jason' } }] }, { cluster: 'v2' }),
          route({ path: '/exact' }, { cluster: 'v2' }),
          route({ safeRegex: { regex: '/re/[0-9]+' } }, { cluster: 'v2' }),
          route({ pathSeparatedPrefix: '/sep' }, { cluster: 'v2' }),
          route({ prefix: '/q', queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] }, { cluster: 'v2' }),
          route({ prefix: '/m', headers: [{ name: ':method', stringMatch: { exact: 'POST' } }] }, { cluster: 'v2' }),
          route({ prefix: '/inv', headers: [{ name: 'x-a', presentMatch: true, invertMatch: true }] }, { cluster: 'v2' }),
          route({ prefix: '/api/' }, { cluster: 'v1', prefixRewrite: '/v1/' }),
          route({ prefix: '/rx/' }, { cluster: 'v1', regexRewrite: { pattern: { regex: '^/rx/(\\w+)/(\\w+)$' }, substitution: '/\\2/\\1' } }),
          route({ prefix: '/host' }, { cluster: 'v1', hostRewriteLiteral: 'rewritten.example' }),
          route({ prefix: '/autohost' }, { cluster: 'dns', autoHostRewrite: { value: true } }),
          route({ prefix: '/hdr' }, { cluster: 'v1' }, {
            requestHeadersToAdd: [{ header: { key: 'x-added', value: 'yes' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
            requestHeadersToRemove: ['x-remove-me'],
            responseHeadersToAdd: [{ header: { key: 'x-resp', value: 'r1' } }],
            responseHeadersToRemove: ['content-type'],
          }),
          { match: { prefix: '/direct' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } },
          { match: { prefix: '/redirect' }, redirect: { hostRedirect: 'other.example', pathRedirect: '/new', responseCode: 'FOUND' } },
          { match: { prefix: '/https' }, redirect: { httpsRedirect: true } },
          route({ prefix: '/nocluster' }, { cluster: 'does-not-exist' }),
          route({ prefix: '/weighted' }, { weightedClusters: { clusters: [{ name: 'v1', weight: { value: 0 } }, { name: 'v2', weight: { value: 100 } }] } }),
          route({ prefix: '/' }, { cluster: 'v1' }),
        ]),
        vhost('catchall', ['*'], [route({ prefix: '/' }, { cluster: 'v2' })], { responseHeadersToAdd: [{ header: { key: 'x-vhost', value: 'catchall' } }] }),
      ])],
    });
    port = h.port('0.0.0.0_9080');
  });

  after(async () => {
    await h.close();
    await v1.stop();
    await v2.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    request(port, { path, method, headers: { host: 'reviews:9080', ...headers } });

  it('routes by prefix to the matching cluster and adds Envoy headers', async () => {
    const r = await get('/productpage');
    assert.equal(r.status, 200);
    const e = r.json<EchoReply>();
    assert.equal(e.server, 'v1');
    assert.equal(e.url, '/productpage');
    assert.equal(e.headers.host, 'reviews:9080');
    assert.match(String(e.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(e.headers['x-forwarded-proto'], 'http');
    assert.equal(e.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(r.headers.server, 'istio-envoy');
    assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
  });

  it('matches headers, exact path, regex, path-separated prefix, query, :method and inverted presence', async () => {
    assert.equal((await get('/productpage', { 'end-user': 'jason' })).json<EchoReply>().server, 'v2');
    assert.equal((await get('/exact')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/exact/more')).json<EchoReply>().server, 'v1');
    assert.equal((await get('/re/123')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/re/12a')).json<EchoReply>().server, 'v1');
    assert.equal((await get('/sep/x')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/separate')).json<EchoReply>().server, 'v1');
    assert.equal((await get('/q?a=1&v=2')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/q?v=3')).json<EchoReply>().server, 'v1');
    assert.equal((await get('/m', {}, 'POST')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/m')).json<EchoReply>().server, 'v1');
    assert.equal((await get('/inv')).json<EchoReply>().server, 'v2');
    assert.equal((await get('/inv', { 'x-a': '1' })).json<EchoReply>().server, 'v1');
  });

  it('selects virtual hosts by domain, wildcard suffix and catch-all', async () => {
    assert.equal((await get('/', { host: 'a.reviews.svc' })).json<EchoReply>().server, 'v1');
    const other = await get('/', { host: 'unknown:1234' });
    assert.equal(other.json<EchoReply>().server, 'v2');
    assert.equal(other.headers['x-vhost'], 'catchall');
  });

  it('rewrites prefix, regex and host', async () => {
    assert.equal((await get('/api/ratings?x=1')).json<EchoReply>().url, '/v1/ratings?x=1');
    assert.equal((await get('/rx/a/b')).json<EchoReply>().url, '/b/a');
    assert.equal((await get('/host')).json<EchoReply>().headers.host, 'rewritten.example');
    await waitUntil(() => (h.proxy.clusters.get('dns')?.hosts.length ?? 0) > 0, 'STRICT_DNS resolution');
    assert.equal((await get('/autohost')).json<EchoReply>().headers.host, 'localhost');
  });

  it('adds and removes request and response headers', async () => {
    const r = await get('/hdr', { 'x-added': 'no', 'x-remove-me': '1' });
    const e = r.json<EchoReply>();
    assert.equal(e.headers['x-added'], 'yes');
    assert.equal(e.headers['x-remove-me'], undefined);
    assert.equal(r.headers['x-resp'], 'r1');
    assert.equal(r.headers['content-type'], undefined);
  });

  it('answers direct responses and redirects', async () => {
    const d = await get('/direct');
    assert.equal(d.status, 418);
    assert.equal(d.body, 'teapot');
    const r = await get('/redirect?a=1');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://other.example:9080/new?a=1');
    const s = await get('/https/x');
    assert.equal(s.status, 301);
    assert.equal(s.headers.location, 'https://reviews/https/x');
  });

  it('answers 503 for an unknown cluster and 404 when no route matches', async () => {
    assert.equal((await get('/nocluster')).status, 503);
    await h.push({ routes: [routeConfig('9080', [vhost('only', ['only.example'], [route({ prefix: '/' }, { cluster: 'v1' })])])] });
    const r = await get('/');
    assert.equal(r.status, 404);
    assert.equal(h.ads.last(TYPE_URL.route)?.error, undefined);
  });
});

describe('HTTP routing: weighted clusters and bodies', () => {
  let h: Harness;
  let v1: EchoServer;
  let v2: EchoServer;
  let port: number;

  before(async () => {
    v1 = await new EchoServer('v1').start();
    v2 = await new EchoServer('v2').start();
    h = await startHarness({ delta: false });
    await h.push({
      clusters: [staticCluster('v1', [['127.0.0.1', v1.port]]), staticCluster('v2', [['127.0.0.1', v2.port]])],
      listeners: [httpListener('web', 8000, 'web')],
      routes: [routeConfig('web', [vhost('all', ['*'], [
        route({ prefix: '/all-v2' }, { weightedClusters: { clusters: [{ name: 'v1', weight: { value: 0 } }, { name: 'v2', weight: { value: 100 } }] } }),
        route({ prefix: '/' }, { weightedClusters: { clusters: [{ name: 'v1', weight: { value: 50 } }, { name: 'v2', weight: { value: 50 } }] } }),
      ])])],
    });
    port = h.port('web');
  });

  after(async () => {
    await h.close();
    await v1.stop();
    await v2.stop();
  });

  it('splits traffic by weight (state of the world ADS)', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await request(port, { path: '/all-v2' })).json<EchoReply>().server, 'v2');
    const seen = { v1: 0, v2: 0 };
    for (let i = 0; i < 60; i++) seen[(await request(port, { path: '/' })).json<EchoReply>().server as 'v1' | 'v2']++;
    assert.ok(seen.v1 > 5 && seen.v2 > 5, `50/50 split gave ${JSON.stringify(seen)}`);
  });

  it('streams content-length and chunked request bodies and keeps connections alive', async () => {
    const body = 'x'.repeat(100_000);
    const r = await request(port, { method: 'POST', path: '/all-v2', body });
    assert.equal(r.json<EchoReply>().body.length, body.length);
    const c = await request(port, { method: 'POST', path: '/all-v2', body: 'hello chunked world', chunked: true });
    assert.equal(c.json<EchoReply>().body, 'hello chunked world');
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) assert.equal((await request(port, { path: '/all-v2', agent })).status, 200);
    agent.destroy();
  });
});
