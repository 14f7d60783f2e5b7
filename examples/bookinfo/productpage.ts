// Bookinfo productpage: the HTML page and the REST API of Istio's Python productpage. It calls
// details and reviews (and ratings for /api/v1/products/{id}/ratings), forwarding the tracing
// headers and `end-user` (from the request header or the login session cookie).
import type http from 'node:http';
import { forwardedHeaders, getJson, productId, sendJson, sendText, serve, type FetchResult } from './http-common.ts';

const domain = process.env.SERVICES_DOMAIN ? `.${process.env.SERVICES_DOMAIN}` : '';
const detailsUrl = `http://${process.env.DETAILS_HOSTNAME ?? 'details'}${domain}:${process.env.DETAILS_SERVICE_PORT ?? '9080'}/details`;
const reviewsUrl = `http://${process.env.REVIEWS_HOSTNAME ?? 'reviews'}${domain}:${process.env.REVIEWS_SERVICE_PORT ?? '9080'}/reviews`;
const ratingsUrl = `http://${process.env.RATINGS_HOSTNAME ?? 'ratings'}${domain}:${process.env.RATINGS_SERVICE_PORT ?? '9080'}/ratings`;

const PRODUCTS = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

interface Review {
  reviewer: string;
  text: string;
  rating?: { stars?: number; color?: string; error?: string };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function cookies(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** The logged-in user, from the session cookie /login sets. */
function sessionUser(req: http.IncomingMessage): string {
  const raw = cookies(req).session;
  if (!raw) return '';
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { user?: unknown };
    return typeof v.user === 'string' ? v.user : '';
  } catch {
    return '';
  }
}

function outgoingHeaders(req: http.IncomingMessage): Record<string, string> {
  const user = sessionUser(req);
  return { ...(user ? { 'end-user': user } : {}), ...forwardedHeaders(req) };
}

async function details(id: number, headers: Record<string, string>): Promise<FetchResult> {
  const r = await getJson(`${detailsUrl}/${id}`, headers, 3000);
  if (r.status === 200) return r;
  return { status: r.status || 503, body: { error: 'Sorry, product details are currently unavailable for this book.' } };
}

async function reviews(id: number, headers: Record<string, string>): Promise<FetchResult> {
  // Istio's productpage tries reviews twice.
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await getJson(`${reviewsUrl}/${id}`, headers, 3000);
    if (r.status === 200) return r;
    if (attempt === 1) return { status: r.status || 503, body: { error: 'Sorry, product reviews are currently unavailable for this book.' } };
  }
  return { status: 503, body: {} };
}

async function ratings(id: number, headers: Record<string, string>): Promise<FetchResult> {
  const r = await getJson(`${ratingsUrl}/${id}`, headers, 3000);
  if (r.status === 200) return r;
  return { status: r.status || 503, body: { error: 'Sorry, product ratings are currently unavailable for this book.' } };
}

function stars(r: Review): string {
  if (!r.rating) return '';
  if (r.rating.error) return `<p><i>${escapeHtml(r.rating.error)}</i></p>`;
  const n = Math.max(0, Math.min(5, r.rating.stars ?? 0));
  const color = r.rating.color === 'red' ? 'red' : 'black';
  const full = '<span class="glyphicon glyphicon-star"></span>\n'.repeat(n);
  const empty = '<span class="glyphicon glyphicon-star-empty"></span>\n'.repeat(5 - n);
  return `<font color="${color}">\n${full}${empty}</font>`;
}

function page(user: string, d: FetchResult, rv: FetchResult): string {
  const product = PRODUCTS[0];
  const det = d.body as Record<string, unknown>;
  const rev = rv.body as { reviews?: Review[]; podname?: string; error?: string };
  const detailsHtml = d.status === 200
    ? `<h4 class="text-center text-primary">Book Details</h4>
<dl>
<dt>Type:</dt>${escapeHtml(String(det.type))}
<dt>Pages:</dt>${escapeHtml(String(det.pages))}
<dt>Publisher:</dt>${escapeHtml(String(det.publisher))}
<dt>Language:</dt>${escapeHtml(String(det.language))}
<dt>ISBN-10:</dt>${escapeHtml(String(det['ISBN-10']))}
<dt>ISBN-13:</dt>${escapeHtml(String(det['ISBN-13']))}
</dl>`
    : `<h4 class="text-center text-primary">Error fetching product details!</h4>\n<p>${escapeHtml(String(det?.error ?? ''))}</p>`;
  const reviewsHtml = rv.status === 200
    ? `<h4 class="text-center text-primary">Book Reviews</h4>
${(rev.reviews ?? []).map((r) => `<blockquote>\n<p>${escapeHtml(r.text)}</p>\n<small>${escapeHtml(r.reviewer)}</small>\n${stars(r)}\n</blockquote>`).join('\n')}
<dl>
<dt>Reviews served by:</dt>
<u>${escapeHtml(rev.podname ?? '')}</u>
</dl>`
    : `<h4 class="text-center text-primary">Error fetching product reviews!</h4>\n<p>${escapeHtml(String(rev?.error ?? ''))}</p>`;
  const login = user
    ? `<p class="navbar-text navbar-right">\n<i class="glyphicon glyphicon-user" aria-hidden="true"></i>\n<span style="padding-left: 5px;">${escapeHtml(user)} ( <a href="logout">sign out</a> )</span>\n</p>`
    : `<form method="post" action="login" class="navbar-form navbar-right"><input type="text" name="username" placeholder="User"><input type="password" name="passwd" placeholder="Password"><button type="submit">Sign in</button></form>`;
  return `<!DOCTYPE html>
<html>
<head>
<title>Simple Bookstore App</title>
<meta charset="utf-8">
</head>
<body>
<nav class="navbar navbar-inverse navbar-static-top">
<a class="navbar-brand" href="#">BookInfo Sample</a>
${login}
</nav>
<div class="container-fluid">
<div class="row">
<div class="col-md-12">
<h3 class="text-center text-primary">${escapeHtml(product.title)}</h3>
<p>Summary: ${product.descriptionHtml}</p>
</div>
</div>
<div class="row">
<div class="col-md-6">
${detailsHtml}
</div>
<div class="col-md-6">
${reviewsHtml}
</div>
</div>
</div>
</body>
</html>
`;
}

const INDEX = `<!DOCTYPE html>
<html>
<head><title>Simple Bookstore App</title><meta charset="utf-8"></head>
<body>
<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
<table class="table table-condensed table-bordered table-hover">
<tr><th>name</th><td>http://details:9080</td></tr>
<tr><th>name</th><td>http://reviews:9080</td></tr>
<tr><th>name</th><td>http://ratings:9080</td></tr>
</table>
<p><h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4></p>
<p><a href="/productpage?u=normal">Normal user</a></p>
<p><a href="/productpage?u=test">Test user</a></p>
</body>
</html>
`;

function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve(new URLSearchParams(text)));
    req.on('error', () => resolve(new URLSearchParams()));
  });
}

serve('productpage', async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://productpage');
  const path = url.pathname;
  const parts = path.split('/').filter(Boolean);
  const headers = outgoingHeaders(req);
  if (req.method === 'GET' && (path === '/' || path === '/index.html')) return sendText(res, 200, INDEX);
  if (req.method === 'GET' && path === '/health') return sendText(res, 200, 'Product page is healthy', 'text/plain; charset=utf-8');
  if (req.method === 'POST' && path === '/login') {
    const form = await readForm(req);
    const user = form.get('username') ?? '';
    const session = Buffer.from(JSON.stringify({ user }), 'utf8').toString('base64url');
    res.writeHead(302, { location: '/productpage', 'set-cookie': `session=${session}; Path=/; HttpOnly` });
    return res.end();
  }
  if (req.method === 'GET' && path === '/logout') {
    res.writeHead(302, { location: '/productpage', 'set-cookie': 'session=; Path=/; Max-Age=0' });
    return res.end();
  }
  if (req.method === 'GET' && path === '/productpage') {
    const [d, rv] = await Promise.all([details(0, headers), reviews(0, headers)]);
    return sendText(res, 200, page(sessionUser(req) || (typeof req.headers['end-user'] === 'string' ? req.headers['end-user'] : ''), d, rv));
  }
  if (req.method === 'GET' && parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'products') {
    if (parts.length === 3) return sendJson(res, 200, PRODUCTS);
    const id = productId(parts[3]);
    if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product ID' });
    if (parts.length === 4) {
      const r = await details(id, headers);
      return sendJson(res, r.status, r.body);
    }
    if (parts.length === 5 && parts[4] === 'reviews') {
      const r = await reviews(id, headers);
      return sendJson(res, r.status, r.body);
    }
    if (parts.length === 5 && parts[4] === 'ratings') {
      const r = await ratings(id, headers);
      return sendJson(res, r.status, r.body);
    }
  }
  // A known route asked with another method: 405 as Flask answers it (Istio's productpage).
  const allowed = path === '/login' ? 'OPTIONS, POST' : ['/', '/index.html', '/health', '/logout', '/productpage'].includes(path) || (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'products') ? 'GET, HEAD, OPTIONS' : undefined;
  if (allowed && !(req.method === 'HEAD' && allowed.includes('GET'))) {
    res.writeHead(405, { allow: allowed, 'content-type': 'text/html; charset=utf-8' });
    return res.end('<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n');
  }
  sendText(res, 404, 'Not Found', 'text/plain; charset=utf-8');
});
