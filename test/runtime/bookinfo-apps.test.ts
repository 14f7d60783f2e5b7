import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, waitFor, freePort } from './netns-test-support.ts';

const APPS = join(REPO, 'examples/bookinfo');

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML
  }
  return { status: res.status, body };
}

/** The Bookinfo services on loopback ports, each pointed at the others (or at a recorder). */
describe('Bookinfo services (examples/bookinfo)', () => {
  const children: ChildProcess[] = [];
  const ports: Record<string, number> = {};
  const recorded: http.IncomingHttpHeaders[] = [];
  let recorder: http.Server;
  let recorderPort = 0;
  let ratingsUp = true;

  const start = async (name: string, script: string, env: Record<string, string>): Promise<void> => {
    ports[name] = await freePort();
    const child = spawn(process.execPath, [join(APPS, script)], { env: { ...process.env, PORT: String(ports[name]), HOSTNAME: `${name}-7d9f8c-abcde`, ...env }, stdio: 'ignore' });
    children.push(child);
    await waitFor(`${name} healthy`, async () => (await fetch(`http://127.0.0.1:${ports[name]}/health`).then((r) => r.ok, () => false)));
  };

  before(async () => {
    // Stands in for ratings: records the headers reviews forwards, answers like ratings (or fails).
    recorder = http.createServer((req, res) => {
      recorded.push(req.headers);
      if (!ratingsUp) {
        res.writeHead(503);
        res.end('fault filter abort');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } }));
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', () => r()));
    recorderPort = (recorder.address() as net.AddressInfo).port;
    await start('ratings', 'ratings.ts', {});
    await start('details', 'details.ts', {});
    await start('reviews-v1', 'reviews.ts', {});
    await start('reviews-v3', 'reviews.ts', { ENABLE_RATINGS: 'true', STAR_COLOR: 'red', RATINGS_HOSTNAME: '127.0.0.1', RATINGS_SERVICE_PORT: String(recorderPort) });
    await start('reviews-v2', 'reviews.ts', { ENABLE_RATINGS: 'true', STAR_COLOR: 'black', RATINGS_HOSTNAME: '127.0.0.1', RATINGS_SERVICE_PORT: String(ports.ratings) });
    await start('productpage', 'productpage.ts', {
      DETAILS_HOSTNAME: '127.0.0.1',
      DETAILS_SERVICE_PORT: String(ports.details),
      REVIEWS_HOSTNAME: '127.0.0.1',
      REVIEWS_SERVICE_PORT: String(ports['reviews-v3']),
      RATINGS_HOSTNAME: '127.0.0.1',
      RATINGS_SERVICE_PORT: String(ports.ratings),
    });
  });

  after(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await new Promise<void>((r) => (recorder ? recorder.close(() => r()) : r()));
  });

  it('details answers the book by numeric id and refuses others', async () => {
    const ok = await getJson(`http://127.0.0.1:${ports.details}/details/0`);
    assert.deepEqual(ok, { status: 200, body: { id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200, publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890' } });
    assert.deepEqual(await getJson(`http://127.0.0.1:${ports.details}/details/x`), { status: 400, body: { error: 'please provide numeric product ID' } });
  });

  it('ratings answers the two reviewers\' stars', async () => {
    assert.deepEqual((await getJson(`http://127.0.0.1:${ports.ratings}/ratings/0`)).body, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  it('reviews v1 has no ratings, v2 black stars, v3 red stars, each naming its pod', async () => {
    const v1 = (await getJson(`http://127.0.0.1:${ports['reviews-v1']}/reviews/0`)).body;
    assert.equal(v1.podname, 'reviews-v1-7d9f8c-abcde');
    assert.equal(v1.reviews.length, 2);
    assert.equal(v1.reviews[0].rating, undefined);
    const v2 = (await getJson(`http://127.0.0.1:${ports['reviews-v2']}/reviews/0`)).body;
    assert.deepEqual(v2.reviews.map((r: { rating: unknown }) => r.rating), [{ stars: 5, color: 'black' }, { stars: 4, color: 'black' }]);
    const v3 = (await getJson(`http://127.0.0.1:${ports['reviews-v3']}/reviews/0`)).body;
    assert.deepEqual(v3.reviews.map((r: { rating: unknown }) => r.rating), [{ stars: 5, color: 'red' }, { stars: 4, color: 'red' }]);
  });

  it('reviews reports ratings as unavailable when ratings fails', async () => {
    ratingsUp = false;
    try {
      const v3 = (await getJson(`http://127.0.0.1:${ports['reviews-v3']}/reviews/0`)).body;
      assert.deepEqual(v3.reviews[0].rating, { error: 'Ratings service is currently unavailable' });
    } finally {
      ratingsUp = true;
    }
  });

  it('productpage serves the page and the REST API', async () => {
    const page = await getJson(`http://127.0.0.1:${ports.productpage}/productpage`);
    assert.equal(page.status, 200);
    assert.match(page.body as string, /<title>Simple Bookstore App<\/title>/);
    assert.match(page.body as string, /The Comedy of Errors/);
    assert.match(page.body as string, /<font color="red">/);
    assert.match(page.body as string, /reviews-v3-7d9f8c-abcde/);
    const products = (await getJson(`http://127.0.0.1:${ports.productpage}/api/v1/products`)).body;
    assert.equal(products[0].title, 'The Comedy of Errors');
    assert.equal((await getJson(`http://127.0.0.1:${ports.productpage}/api/v1/products/0`)).body.author, 'William Shakespeare');
    assert.equal((await getJson(`http://127.0.0.1:${ports.productpage}/api/v1/products/0/reviews`)).body.podname, 'reviews-v3-7d9f8c-abcde');
    assert.deepEqual((await getJson(`http://127.0.0.1:${ports.productpage}/api/v1/products/0/ratings`)).body, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  it('forwards end-user (header or login cookie) and tracing headers productpage → reviews → ratings', async () => {
    recorded.length = 0;
    await getJson(`http://127.0.0.1:${ports.productpage}/productpage`, { 'end-user': 'jason', 'x-request-id': 'req-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', b3: 'abc-def-1', 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7' });
    const h = recorded.at(-1);
    assert.ok(h, 'ratings was called');
    assert.equal(h['end-user'], 'jason');
    assert.equal(h['x-request-id'], 'req-1');
    assert.equal(h.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.equal(h.b3, 'abc-def-1');
    assert.equal(h['x-b3-traceid'], '80f198ee56343ba864fe8b2a57d3eff7');

    const login = await fetch(`http://127.0.0.1:${ports.productpage}/login`, { method: 'POST', body: new URLSearchParams({ username: 'jason', passwd: 'x' }), redirect: 'manual' });
    assert.equal(login.status, 302);
    // Istio's productpage (Flask) only takes POST on /login.
    const getLogin = await fetch(`http://127.0.0.1:${ports.productpage}/login`);
    assert.equal(getLogin.status, 405);
    assert.equal(getLogin.headers.get('allow'), 'OPTIONS, POST');
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    recorded.length = 0;
    const page = await getJson(`http://127.0.0.1:${ports.productpage}/productpage`, { cookie });
    assert.match(page.body as string, /jason/);
    assert.equal(recorded.at(-1)?.['end-user'], 'jason');
  });
});
