import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor, cli, freePort } from '../runtime/netns-test-support.ts';
import { ISTIO_DATA, istioDataMissing } from '../validation/istio-data.ts';

/**
 * Istio's Gateway API tasks on Bookinfo with sidecars, through the real CLI: `samples/bookinfo/
 * gateway-api/bookinfo-gateway.yaml` (a Gateway of class istio, which gets its own gateway
 * deployment `bookinfo-gateway-istio`, and an HTTPRoute) serves /productpage; the reviews 90/10
 * HTTPRoute with a Service parent (GAMMA) splits the sidecars' traffic.
 */
const SAMPLES = 'istio/samples/bookinfo/';
const skip = (await rootSkipReason()) || istioDataMissing(SAMPLES);

describe('Gateway API on Bookinfo with sidecars (Istio\'s samples)', { skip, timeout: 400_000 }, () => {
  let dir: string;
  let port: number;
  let prefix = '';

  const page = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/productpage`, { signal: AbortSignal.timeout(10_000) });
    return `${res.status} ${await res.text()}`;
  };

  before(async () => {
    dir = tempDir('gwapi');
    port = await freePort();
    const manifests = join(dir, 'bookinfo');
    mkdirSync(manifests, { recursive: true });
    for (const f of readdirSync(join(REPO, 'examples/bookinfo'))) if (f.endsWith('.ts') || f.endsWith('.yaml')) copyFileSync(join(REPO, 'examples/bookinfo', f), join(manifests, f));
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a Gateway of class istio gets its deployment and serves the HTTPRoute (Exact and PathPrefix matches)', async () => {
    const up = await cli(['up', '-d', join(dir, 'bookinfo'), '--expose', `default/bookinfo-gateway-istio:80=${port}`, '--timeout', '240s'], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    const applied = await cli(['apply', '-f', `${ISTIO_DATA}${SAMPLES}gateway-api/bookinfo-gateway.yaml`], dir);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /gateway\.gateway\.networking\.k8s\.io\/bookinfo-gateway created/);
    const body = await waitFor('productpage through the Gateway API gateway', async () => {
      const p = await page().catch(() => '');
      return p.startsWith('200') && p.includes('Book Details') ? p : undefined;
    }, 120_000);
    assert.match(body, /Reviewer1/);
    const pods = await cli(['get', 'pods'], dir);
    assert.match(pods.stdout, /bookinfo-gateway-istio-/);
    const static404 = await fetch(`http://127.0.0.1:${port}/staticx`);
    assert.equal(static404.status, 404, 'PathPrefix /static matches whole segments only');
  });

  it('splits reviews 90/10 by an HTTPRoute with a Service parent (±5 % over 600 requests)', async () => {
    for (const f of ['platform/kube/bookinfo-versions.yaml', 'gateway-api/route-reviews-90-10.yaml']) {
      const r = await cli(['apply', '-f', `${ISTIO_DATA}${SAMPLES}${f}`], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    // the route is in force once a v3 page can no longer appear
    await waitFor('only v1/v2 reviews', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add(/<u>(reviews-v\d)/.exec(await page())?.[1] ?? '?');
      return !seen.has('reviews-v3') && !seen.has('?');
    }, 90_000);
    const counts: Record<string, number> = {};
    // 600 samples: at 200, ±5 % is only 2.4 standard deviations and a correct 90/10 split fails about 1 run in 60
    for (let i = 0; i < 600; i++) {
      const p = await page();
      assert.ok(p.startsWith('200'), p.slice(0, 200));
      const v = /<u>(reviews-v\d)/.exec(p)?.[1] ?? '?';
      counts[v] = (counts[v] ?? 0) + 1;
    }
    assert.ok((counts['reviews-v1'] ?? 0) >= 510 && (counts['reviews-v1'] ?? 0) <= 570, `v1 ${counts['reviews-v1']}/600 (${JSON.stringify(counts)})`);
    assert.equal((counts['reviews-v1'] ?? 0) + (counts['reviews-v2'] ?? 0), 600, JSON.stringify(counts));
  });
});
