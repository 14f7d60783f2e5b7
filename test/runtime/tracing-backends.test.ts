import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { leftovers, REPO, rootSkipReason, tempDir, waitFor } from './netns-test-support.ts';
import { cli, freePort, get, observabilityManifests, ZIPKIN_JAR } from './tracing-support.ts';

/**
 * Issue 19's acceptance with a real backend: Bookinfo behind the ingress gateway, sidecars
 * reporting to Zipkin's own server (io.zipkin:zipkin-server) running as a pod of the mesh; the
 * Telemetry kind sets sampling. scripts/tracing-backends.sh (run by .ci/run) caches the jar.
 */
const NETWORKING = join(REPO, '../shared/istio/istio/samples/bookinfo/networking');
const skip = (await rootSkipReason())
  || (!existsSync(ZIPKIN_JAR) ? `Zipkin's server jar is missing (${ZIPKIN_JAR}): run scripts/tracing-backends.sh` : false)
  || (!existsSync(NETWORKING) ? `Istio's samples are missing (${NETWORKING})` : false);

type ZSpan = { traceId: string; id: string; parentId?: string; name: string; kind?: string; localEndpoint?: { serviceName?: string }; tags?: Record<string, string> };

describe('Tracing to a real Zipkin from a Bookinfo run (Zipkin\'s own server as a pod)', { skip, timeout: 420_000 }, () => {
  let dir: string;
  let gateway: number;
  let zipkin: number;
  let prefix = '';

  const apply = async (...files: string[]): Promise<void> => {
    const r = await cli(['apply', ...files.flatMap((f) => ['-f', f])], dir);
    assert.equal(r.code, 0, r.stderr);
  };
  const zipkinGet = async <T>(path: string): Promise<T | undefined> => {
    const r = await get(zipkin, path);
    return r.status === 200 ? (JSON.parse(r.body) as T) : undefined;
  };
  /** The trace of one request through the gateway, found by its unique URL tag. */
  const traceOf = async (url: string, minSpans: number): Promise<ZSpan[]> => {
    const q = `/api/v2/traces?serviceName=istio-ingressgateway.istio-system&annotationQuery=${encodeURIComponent(`http.url=${url}`)}&limit=10&lookback=600000`;
    return waitFor(`trace of ${url} with ${minSpans} spans`, async () => {
      const traces = (await zipkinGet<ZSpan[][]>(q)) ?? [];
      if (traces.length !== 1) return undefined;
      const full = await zipkinGet<ZSpan[]>(`/api/v2/trace/${traces[0]![0]!.traceId}`);
      return full && full.length >= minSpans ? full : undefined;
    }, 60_000);
  };

  before(async () => {
    dir = tempDir('tracing');
    cpSync(join(REPO, 'examples/bookinfo'), join(dir, 'mesh'), { recursive: true });
    writeFileSync(join(dir, 'mesh', 'observability.yaml'), observabilityManifests('zipkin'));
    gateway = await freePort();
    zipkin = await freePort();
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('one Bookinfo request at 100 % gives one trace in Zipkin: gateway → productpage → details, reviews → ratings, with correct parents', async () => {
    const up = await cli(['up', '-d', join(dir, 'mesh'), '--ingress-gateway', '--timeout', '240s', '--expose', `istio-system/istio-ingressgateway:80=${gateway}`, '--expose', `istio-system/zipkin:9411=${zipkin}`], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    await apply(join(NETWORKING, 'bookinfo-gateway.yaml'), join(NETWORKING, 'destination-rule-all.yaml'), join(NETWORKING, 'virtual-service-reviews-v3.yaml'));
    await waitFor('gateway serves /productpage with ratings (reviews v3)', async () => {
      const r = await get(gateway, '/productpage');
      return r.status === 200 && r.body.includes('color="red"') ? true : undefined;
    }, 90_000);
    const path = `/productpage?u=${randomUUID()}`;
    assert.equal((await get(gateway, path)).status, 200);
    const spans = await traceOf(`http://127.0.0.1:${gateway}${path}`, 9);
    const services = new Set(spans.map((s) => s.localEndpoint?.serviceName));
    for (const svc of ['istio-ingressgateway.istio-system', 'productpage.default', 'details.default', 'reviews.default', 'ratings.default']) assert.ok(services.has(svc), `spans from ${svc} (got ${[...services].join(', ')})`);
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace');
    const byId = new Map(spans.map((s) => [s.id, s]));
    const roots = spans.filter((s) => !s.parentId);
    assert.equal(roots.length, 1, 'one root span');
    for (const s of spans) if (s.parentId) assert.ok(byId.has(s.parentId), `parent of ${s.name} (${s.localEndpoint?.serviceName}) is in the trace`);
    const find = (svc: string, kind: string, name: RegExp): ZSpan => {
      const s = spans.find((x) => x.localEndpoint?.serviceName === svc && x.kind === kind && name.test(x.name));
      assert.ok(s, `${kind} span of ${svc} named ${name}`);
      return s;
    };
    const ratingsServer = find('ratings.default', 'SERVER', /^ratings\.default\.svc\.cluster\.local:9080\//);
    const reviewsClient = find('reviews.default', 'CLIENT', /^ratings\.default\.svc\.cluster\.local:9080\//);
    const reviewsServer = find('reviews.default', 'SERVER', /^reviews\.default\.svc\.cluster\.local:9080\//);
    const ppClient = find('productpage.default', 'CLIENT', /^reviews\.default\.svc\.cluster\.local:9080\//);
    const ppServer = find('productpage.default', 'SERVER', /^productpage\.default\.svc\.cluster\.local:9080\//);
    const detailsServer = find('details.default', 'SERVER', /^details\.default\.svc\.cluster\.local:9080\//);
    assert.equal(ratingsServer.parentId, reviewsClient.id);
    assert.equal(reviewsClient.parentId, reviewsServer.id);
    assert.equal(reviewsServer.parentId, ppClient.id);
    assert.equal(ppClient.parentId, ppServer.id);
    assert.equal(byId.get(detailsServer.parentId!)?.parentId, ppServer.id, 'details is called from productpage');
    assert.equal(ratingsServer.tags?.['istio.canonical_service'], 'ratings');
    assert.equal(ratingsServer.tags?.['http.status_code'], '200');
  });

  it('with the Telemetry kind at 0 %, a request leaves no trace', async () => {
    const zero = join(dir, 'zero.yaml');
    writeFileSync(zero, 'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  tracing:\n  - providers: [{name: zipkin}]\n    randomSamplingPercentage: 0\n');
    await apply(zero);
    // the push reaches the gateway within seconds: until then a request may still be traced
    const silent = async (): Promise<boolean> => {
      const path = `/productpage?z=${randomUUID()}`;
      if ((await get(gateway, path)).status !== 200) return false;
      await new Promise((r) => setTimeout(r, 2500)); // exporters flush every second
      const q = `/api/v2/traces?serviceName=productpage.default&annotationQuery=${encodeURIComponent(`http.url=http://127.0.0.1:${gateway}${path}`)}&lookback=600000`;
      const gw = `/api/v2/traces?serviceName=istio-ingressgateway.istio-system&annotationQuery=${encodeURIComponent(`http.url=http://127.0.0.1:${gateway}${path}`)}&lookback=600000`;
      return ((await zipkinGet<unknown[]>(q)) ?? [1]).length === 0 && ((await zipkinGet<unknown[]>(gw)) ?? [1]).length === 0;
    };
    await waitFor('the 0 % setting in force', async () => ((await silent()) ? true : undefined), 60_000);
    for (let i = 0; i < 3; i++) assert.ok(await silent(), 'no trace for a request at 0 %');
  });

  it("the dashboard links a workload to its traces and serves Zipkin's UI and API through its own origin", async () => {
    const d = await cli(['dashboard'], dir);
    assert.equal(d.code, 0, d.stderr);
    const dashboard = d.stdout.trim();
    const z = await cli(['dashboard', 'zipkin'], dir);
    assert.equal(z.code, 0, z.stderr);
    assert.equal(z.stdout.trim(), `${dashboard}zipkin/`, '`mizzen dashboard zipkin` prints where Zipkin is served');
    const node = (await (await fetch(`${dashboard}api/node?id=${encodeURIComponent('wl:default/productpage-v1')}`)).json()) as { traces?: string };
    assert.match(node.traces ?? '', /^\/zipkin\/\?serviceName=productpage\.default&/, 'a trace link for the workload');
    const ui = await fetch(new URL(node.traces!, dashboard));
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-type') ?? '', /text\/html/, "Zipkin's UI");
    await ui.text();
    const api = await fetch(`${dashboard}zipkin/api/v2/traces?serviceName=productpage.default&lookback=600000&limit=1`);
    assert.equal(api.status, 200);
    assert.ok(((await api.json()) as unknown[]).length === 1, "the traces of the earlier requests, through the dashboard's origin");
  });
});
