import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { leftovers, REPO, rootSkipReason, tempDir, waitFor } from './netns-test-support.ts';
import { cli, freePort, get, observabilityManifests, OTEL_CONFIG, OTELCOL } from './tracing-support.ts';

/**
 * Issue 19's OTLP backend: the OpenTelemetry Collector, built from its Go modules
 * (test/otelcol, scripts/tracing-backends.sh), runs as a pod; the mesh-wide Telemetry sends
 * every sidecar's and the gateway's spans to it over OTLP/gRPC; its debug exporter prints them.
 */
const NETWORKING = join(REPO, '../shared/istio/istio/samples/bookinfo/networking');
const skip = (await rootSkipReason())
  || (!existsSync(OTELCOL) ? `the OpenTelemetry Collector is missing (${OTELCOL}): run scripts/tracing-backends.sh` : false)
  || (!existsSync(NETWORKING) ? `Istio's samples are missing (${NETWORKING})` : false);

type OSpan = { service: string; traceId: string; id: string; parent: string; kind: string; name: string };

/** Spans as the collector's debug exporter prints them (detailed verbosity). */
function parseDebugExporter(text: string): OSpan[] {
  const out: OSpan[] = [];
  let service = '';
  let cur: Record<string, string> | undefined;
  const keys: Record<string, string> = { 'Trace ID': 'traceId', 'Parent ID': 'parent', ID: 'id', Name: 'name', Kind: 'kind' };
  for (const line of text.split('\n')) {
    const svc = /-> service\.name: Str\(([^)]*)\)/.exec(line);
    if (svc) service = svc[1]!;
    const f = /^\s+(Trace ID|Parent ID|ID|Name|Kind)\s+: ?(.*)$/.exec(line);
    if (!f) continue;
    if (f[1] === 'Trace ID') {
      cur = { service };
      out.push(cur as unknown as OSpan);
    }
    if (cur) cur[keys[f[1]!]!] = f[2]!.trim();
  }
  return out;
}

describe('Tracing over OTLP/gRPC to a real OpenTelemetry Collector from a Bookinfo run', { skip, timeout: 360_000 }, () => {
  let dir: string;
  let gateway: number;
  let prefix = '';

  before(async () => {
    dir = tempDir('otlp');
    cpSync(join(REPO, 'examples/bookinfo'), join(dir, 'mesh'), { recursive: true });
    writeFileSync(join(dir, 'otelcol.yaml'), OTEL_CONFIG);
    writeFileSync(join(dir, 'mesh', 'observability.yaml'), observabilityManifests('otel', join(dir, 'otelcol.yaml')));
    gateway = await freePort();
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await cli(['down'], dir);
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('one request gives one trace with spans from the gateway and the four Bookinfo sidecars, parents in the trace', async () => {
    const up = await cli(['up', '-d', join(dir, 'mesh'), '--ingress-gateway', '--timeout', '240s', '--expose', `istio-system/istio-ingressgateway:80=${gateway}`], dir);
    assert.equal(up.code, 0, up.stderr);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    const apply = await cli(['apply', '-f', join(NETWORKING, 'bookinfo-gateway.yaml'), '-f', join(NETWORKING, 'destination-rule-all.yaml'), '-f', join(NETWORKING, 'virtual-service-reviews-v3.yaml')], dir);
    assert.equal(apply.code, 0, apply.stderr);
    await waitFor('gateway serves /productpage with ratings (reviews v3)', async () => {
      const r = await get(gateway, '/productpage');
      return r.status === 200 && r.body.includes('color="red"') ? true : undefined;
    }, 90_000);
    const path = `/productpage?o=${randomUUID()}`;
    assert.equal((await get(gateway, path)).status, 200);
    const spans = await waitFor('the request\'s spans at the collector', async () => {
      const logs = await cli(['logs', '-n', 'istio-system', 'deploy/otel-collector'], dir);
      const all = parseDebugExporter(logs.stdout + logs.stderr);
      // the gateway's server span names the route; its trace holds the rest
      const traceIds = new Set(all.filter((s) => s.service === 'istio-ingressgateway.istio-system').map((s) => s.traceId));
      for (const t of traceIds) {
        const trace = all.filter((s) => s.traceId === t);
        // spans leave each proxy in batches, a parent (the server span) after its children:
        // wait until every parent has arrived too, so a missing one fails below only when it never comes
        const ids = new Set(trace.map((s) => s.id));
        const complete = trace.every((s) => !s.parent || ids.has(s.parent));
        if (new Set(trace.map((s) => s.service)).size >= 5 && trace.some((s) => s.service === 'ratings.default') && complete) return trace;
      }
      return undefined;
    }, 90_000);
    const ids = new Set(spans.map((s) => s.id));
    assert.equal(spans.filter((s) => !s.parent).length, 1, 'one root span');
    for (const s of spans) if (s.parent) assert.ok(ids.has(s.parent), `parent of ${s.name} (${s.service}) is in the trace`);
    const ratings = spans.find((s) => s.service === 'ratings.default' && s.kind === 'Server')!;
    const reviewsClient = spans.find((s) => s.id === ratings.parent)!;
    const shape = spans.map((s) => `${s.service} ${s.kind} ${s.name} id=${s.id} parent=${s.parent}`).join('\n');
    assert.equal(reviewsClient.service, 'reviews.default', shape);
    assert.equal(reviewsClient.kind, 'Client', shape);
  });
});
