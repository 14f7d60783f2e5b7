// Bookinfo reviews: v1 (no ratings), v2 (black stars), v3 (red stars), as Istio's Java service.
// ENABLE_RATINGS=true calls ratings; STAR_COLOR sets the color; the JSON names the pod.
import os from 'node:os';
import { forwardedHeaders, getJson, productId, sendJson, serve } from './http-common.ts';

const ratingsEnabled = (process.env.ENABLE_RATINGS ?? 'false') === 'true';
const starColor = process.env.STAR_COLOR ?? 'black';
const servicesDomain = process.env.SERVICES_DOMAIN ? `.${process.env.SERVICES_DOMAIN}` : '';
const ratingsHost = process.env.RATINGS_HOSTNAME ?? 'ratings';
const ratingsPort = process.env.RATINGS_SERVICE_PORT ?? '9080';
const ratingsUrl = `http://${ratingsHost}${servicesDomain}:${ratingsPort}/ratings`;
// Istio's reviews waits 10 s for ratings with black stars (v2) and 2.5 s with red (v3).
const ratingsTimeoutMs = starColor === 'black' ? 10_000 : 2_500;
const podname = process.env.HOSTNAME ?? os.hostname();
const clustername = process.env.CLUSTER_NAME ?? 'null';

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

serve('reviews', async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://reviews');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
  if (req.method === 'GET' && parts[0] === 'reviews' && parts.length === 2) {
    const id = productId(parts[1]);
    if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product ID' });
    let ratings: Record<string, number> | undefined;
    let ratingsError = false;
    if (ratingsEnabled) {
      const r = await getJson(`${ratingsUrl}/${id}`, forwardedHeaders(req), ratingsTimeoutMs);
      const body = r.body as { ratings?: Record<string, number> } | undefined;
      if (r.status === 200 && body?.ratings) ratings = body.ratings;
      else ratingsError = true;
    }
    const reviews = REVIEWS.map((rv) => {
      if (!ratingsEnabled) return rv;
      if (ratingsError || !ratings) return { ...rv, rating: { error: 'Ratings service is currently unavailable' } };
      const stars = ratings[rv.reviewer];
      return stars === undefined ? rv : { ...rv, rating: { stars, color: starColor } };
    });
    return sendJson(res, 200, { id: String(id), podname, clustername, reviews });
  }
  sendJson(res, 404, { error: 'Not Found' });
});
