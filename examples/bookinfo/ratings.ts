// Bookinfo ratings (v1): star ratings by product id, as Istio's Node.js ratings service.
import { productId, sendJson, serve } from './http-common.ts';

const userAdded = new Map<number, Record<string, number>>();

serve('ratings', (req, res) => {
  const url = new URL(req.url ?? '/', 'http://ratings');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
  if (parts[0] === 'ratings' && parts.length === 2) {
    const id = productId(parts[1]);
    if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product ID' });
    if (req.method === 'GET') return sendJson(res, 200, { id, ratings: userAdded.get(id) ?? { Reviewer1: 5, Reviewer2: 4 } });
    if (req.method === 'POST') {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (text += d));
      req.on('end', () => {
        try {
          const ratings = JSON.parse(text) as Record<string, number>;
          userAdded.set(id, ratings);
          sendJson(res, 200, { id, ratings });
        } catch {
          sendJson(res, 400, { error: 'please provide valid ratings JSON' });
        }
      });
      return;
    }
  }
  sendJson(res, 404, { error: 'Not Found' });
});
