import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rootSkipReason, waitFor, freePort } from '../runtime/netns-test-support.ts';
import { AmbientMesh } from './support/ambient-mesh.ts';
import { ISTIO_DATA, istioDataMissing } from '../validation/istio-data.ts';

/**
 * Issue 17's acceptance with Istio's ambient Bookinfo tasks, through the real CLI: Bookinfo in
 * ambient mode, `mizzen waypoint apply --enroll-namespace`; the reviews 90/10 HTTPRoute of the
 * ambient getting-started guide; an L7 AuthorizationPolicy attached to reviews at the waypoint
 * (productpage may GET, DELETE is refused with 403); a ratings abort for jason only through a
 * VirtualService; taking the namespace off the waypoint falls back to L4 without failed requests.
 */
const SAMPLES = 'istio/samples/bookinfo/';
const skip = (await rootSkipReason()) || istioDataMissing(SAMPLES);

const REVIEWS_VIEWER = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-productpage]}}]
    to: [{operation: {methods: [GET]}}]
`;

describe('Bookinfo in ambient mode with a waypoint (Istio\'s ambient tasks)', { skip, timeout: 600_000 }, () => {
  const mesh = new AmbientMesh('wpbook');
  let port: number;

  const reviews = async (user?: string): Promise<{ version: string; rating: unknown; status: number }> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/products/0/reviews`, { headers: user ? { 'end-user': user } : {}, signal: AbortSignal.timeout(10_000) });
    const body = (await res.json().catch(() => ({}))) as { podname?: string; reviews?: { rating?: unknown }[] };
    return { version: body.podname?.split('-')[1] ?? `status ${res.status}`, rating: body.reviews?.[0]?.rating, status: res.status };
  };
  const curlFrom = async (deploy: string, args: string[]): Promise<string> => {
    const r = await mesh.cli(['exec', `deploy/${deploy}`, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', ...args]);
    return r.stdout.trim() || '000';
  };
  const headersFrom = async (deploy: string, url: string): Promise<string> => (await mesh.cli(['exec', `deploy/${deploy}`, '--', 'curl', '-s', '-D', '-', '-o', '/dev/null', '--max-time', '5', url])).stdout;
  const apply = async (...files: string[]): Promise<void> => {
    const r = await mesh.cli(['apply', ...files.flatMap((f) => ['-f', f])]);
    assert.equal(r.code, 0, r.stderr);
  };
  const applyText = (yaml: string): Promise<void> => mesh.apply(yaml);

  before(() => mesh.createBookinfo());
  after(() => mesh.down());

  it('mizzen waypoint apply --enroll-namespace puts the namespace\'s services behind a ready waypoint', async () => {
    port = await freePort();
    await mesh.up(['--expose', `default/productpage:9080=${port}`]);
    const wp = await mesh.cli(['waypoint', 'apply', '--enroll-namespace', '--timeout', '120s']);
    assert.equal(wp.code, 0, wp.stderr);
    assert.match(wp.stdout, /waypoint default\/waypoint applied\nnamespace default labeled with "istio.io\/use-waypoint: waypoint"\nwaypoint default\/waypoint is programmed/);
    const list = await mesh.cli(['waypoint', 'list']);
    assert.match(list.stdout, /waypoint\s+service\s+True\s+waypoint\.default\.svc\.cluster\.local/);
    // productpage → reviews now crosses the waypoint: an L7 proxy answers (Envoy's upstream service time header)
    await waitFor('reviews answered through the waypoint', async () => /x-envoy-upstream-service-time/i.test(await headersFrom('productpage-v1', 'http://reviews:9080/reviews/0')) || undefined, 60_000);
  });

  it('splits reviews 90/10 by the HTTPRoute of the ambient guide (±5 % over 600 requests)', async () => {
    await apply(`${ISTIO_DATA}${SAMPLES}platform/kube/bookinfo-versions.yaml`, `${ISTIO_DATA}${SAMPLES}gateway-api/route-reviews-90-10.yaml`);
    await waitFor('only v1/v2 reviews', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add((await reviews()).version);
      return !seen.has('v3') && [...seen].every((v) => v === 'v1' || v === 'v2') ? seen : undefined;
    }, 90_000);
    const counts: Record<string, number> = {};
    // 600 samples: at 200, ±5 % is only 2.4 standard deviations and a correct 90/10 split fails about 1 run in 60
    for (let i = 0; i < 600; i++) {
      const r = await reviews();
      assert.equal(r.status, 200);
      counts[r.version] = (counts[r.version] ?? 0) + 1;
    }
    assert.ok((counts.v1 ?? 0) >= 510 && (counts.v1 ?? 0) <= 570, `v1 ${counts.v1}/600 (${JSON.stringify(counts)})`);
    assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), 600, JSON.stringify(counts));
  });

  it('lets productpage GET reviews and refuses DELETE with 403 (AuthorizationPolicy with targetRefs, at the waypoint)', async () => {
    await applyText(REVIEWS_VIEWER);
    await waitFor('DELETE refused', async () => ((await curlFrom('productpage-v1', ['-X', 'DELETE', 'http://reviews:9080/reviews/0'])) === '403') || undefined);
    assert.equal(await curlFrom('productpage-v1', ['http://reviews:9080/reviews/0']), '200');
    assert.equal(await curlFrom('ratings-v1', ['http://reviews:9080/reviews/0']), '403', 'another workload is not productpage');
    assert.equal((await reviews()).status, 200);
  });

  it('aborts ratings for jason only (VirtualService fault at the waypoint)', async () => {
    const del = await mesh.cli(['delete', '-f', `${ISTIO_DATA}${SAMPLES}gateway-api/route-reviews-90-10.yaml`]);
    assert.equal(del.code, 0, del.stderr);
    await apply(`${ISTIO_DATA}${SAMPLES}networking/destination-rule-all.yaml`, `${ISTIO_DATA}${SAMPLES}networking/virtual-service-reviews-test-v2.yaml`, `${ISTIO_DATA}${SAMPLES}networking/virtual-service-ratings-test-abort.yaml`);
    await waitFor('jason sees ratings unavailable', async () => {
      const r = await reviews('jason');
      return r.version === 'v2' && JSON.stringify(r.rating) === JSON.stringify({ error: 'Ratings service is currently unavailable' }) ? r : undefined;
    }, 60_000);
    assert.equal(await curlFrom('reviews-v2', ['-H', 'end-user: jason', 'http://ratings:9080/ratings/0']), '500');
    assert.equal(await curlFrom('reviews-v2', ['-H', 'end-user: alice', 'http://ratings:9080/ratings/0']), '200');
  });

  it('falls back to L4 when the namespace leaves the waypoint, without failed requests', async () => {
    let failed = 0;
    let done = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/products/0`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
        if (res?.status !== 200) failed++;
        await res?.arrayBuffer().catch(() => undefined);
        done++;
      }
    })();
    await applyText('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {istio.io/dataplane-mode: ambient}\n');
    // off the waypoint, the L7 DENY of DELETE no longer applies (ztunnel enforces L4 only)
    await waitFor('reviews answered directly', async () => {
      const h = await headersFrom('productpage-v1', 'http://reviews:9080/reviews/0');
      return (h.startsWith('HTTP/1.1 200') && !/x-envoy-upstream-service-time/i.test(h)) || undefined;
    });
    assert.notEqual(await curlFrom('productpage-v1', ['-X', 'DELETE', 'http://reviews:9080/reviews/0']), '403');
    const before = done;
    await waitFor('more requests after the switch', () => done >= before + 20 || undefined);
    stop = true;
    await load;
    assert.equal(failed, 0, `${failed} of ${done} product requests failed during the switch`);
  });
});
