// Bookinfo details (v1): book information by product id, as Istio's Ruby details service.
import { productId, sendJson, serve } from './http-common.ts';

serve('details', (req, res) => {
  const url = new URL(req.url ?? '/', 'http://details');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
  if (req.method === 'GET' && parts[0] === 'details' && parts.length === 2) {
    const id = productId(parts[1]);
    if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product ID' });
    return sendJson(res, 200, {
      id,
      author: 'William Shakespeare',
      year: 1595,
      type: 'paperback',
      pages: 200,
      publisher: 'PublisherA',
      language: 'English',
      'ISBN-10': '1234567890',
      'ISBN-13': '123-1234567890',
    });
  }
  sendJson(res, 404, { error: 'Not Found' });
});
