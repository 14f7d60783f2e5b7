import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultMeshConfig, parseMeshConfig } from '../../src/control/config/mesh-config.ts';
import { generateAll, proxy, pushContext } from '../support/generate-fixture.ts';
import { RICH_CONFIG, RICH_ENDPOINTS, RICH_SERVICES } from './rich-mesh.ts';

type Json = Record<string, any>;

const ZIPKIN_SVC = { hostname: 'zipkin.istio-system.svc.cluster.local', namespace: 'istio-system', ports: [{ port: 9411, protocol: 'HTTP', name: 'http-query' }] };
const OTEL_SVC = { hostname: 'otel-collector.observability.svc.cluster.local', namespace: 'observability', ports: [{ port: 4317, protocol: 'GRPC', name: 'grpc' }] };

const MESH = parseMeshConfig(`
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
- name: json-log
  envoyFileAccessLog: {path: /dev/stderr, logFormat: {labels: {code: "%RESPONSE_CODE%"}}}
`);

const reviews = proxy({ ip: '10.244.0.11', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', pod: 'reviews-v1' });
const ratings = proxy({ ip: '10.244.0.12', labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'ratings', pod: 'ratings-v1' });

function hcms(p: typeof reviews, telemetry: string, mesh: Json = MESH): { inbound: Json[]; outbound: Json[] } {
  const push = pushContext(`${RICH_CONFIG}\n---\n${telemetry}`, [...RICH_SERVICES, ZIPKIN_SVC, OTEL_SVC] as never, RICH_ENDPOINTS, mesh);
  const out = { inbound: [] as Json[], outbound: [] as Json[] };
  for (const l of generateAll(p, push).listeners.map((x) => x.resource as Json)) {
    for (const c of l.filterChains ?? []) for (const f of c.filters ?? []) if (f.name === 'envoy.filters.network.http_connection_manager') (l.name === 'virtualInbound' ? out.inbound : out.outbound).push(f.typedConfig);
  }
  return out;
}

const tag = (h: Json, name: string): Json | undefined => (h.tracing.customTags as Json[]).find((t) => t.tag === name);

describe('Telemetry → HCM tracing, access logs and stats (as istiod)', () => {
  it('mesh-wide tracing provider with 100 %: Zipkin tracer on the provider\'s cluster, Istio\'s tags, both sides', () => {
    const { inbound, outbound } = hcms(reviews, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 100
    customTags:
      user: {header: {name: end-user, defaultValue: anonymous}}
`);
    for (const h of [...inbound, ...outbound]) {
      assert.equal(h.tracing.randomSampling.value, 100);
      assert.equal(h.tracing.provider.name, 'envoy.tracers.zipkin');
      const z = h.tracing.provider.typedConfig;
      assert.equal(z.collectorCluster, 'outbound|9411||zipkin.istio-system.svc.cluster.local');
      assert.equal(z.collectorEndpoint, '/api/v2/spans');
      assert.equal(z.sharedSpanContext, false);
      assert.equal(tag(h, 'istio.namespace')!.literal.value, 'default');
      assert.equal(tag(h, 'istio.namespace')!.literal.value, 'default');
      assert.deepEqual(tag(h, 'user')!.requestHeader, { name: 'end-user', defaultValue: 'anonymous' });
      // Istio's optional policy tags: the RBAC filter's dry-run result, from the request's metadata
      assert.deepEqual(tag(h, 'istio.authorization.dry_run.deny_policy.result')!.metadata, { kind: { request: {} }, metadataKey: { key: 'envoy.filters.http.rbac', path: [{ key: 'istio_dry_run_deny_shadow_engine_result' }] } });
      assert.deepEqual(tag(h, 'istio.authorization.dry_run.allow_policy.name')!.metadata.metadataKey.path, [{ key: 'istio_dry_run_allow_shadow_effective_policy_id' }]);
      const names = (h.tracing.customTags as Json[]).map((t) => t.tag as string);
      assert.deepEqual(names, [...names].sort(), 'tags sorted by name, as istiod');
    }
    for (const h of inbound) {
      assert.equal(tag(h, 'istio.canonical_service')!.literal.value, 'reviews', 'canonical name from the app label, as the injector sets it');
      assert.equal(tag(h, 'istio.canonical_revision')!.literal.value, 'v1');
    }
    // outbound listeners are shared by a scope's workloads: the tags read istio-proxy's environment
    for (const h of outbound) assert.deepEqual(tag(h, 'istio.canonical_service')!.environment, { name: 'CANONICAL_SERVICE', defaultValue: 'unknown' });
  });

  it('namespace and workload Telemetry override the root one field by field (sampling 0 % for one workload, server side only)', () => {
    const t = `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 100}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ns, namespace: default}
spec:
  tracing: [{randomSamplingPercentage: 10}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ratings-off, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  tracing: [{match: {mode: SERVER}, disableSpanReporting: true}]
`;
    const r = hcms(reviews, t);
    for (const h of [...r.inbound, ...r.outbound]) assert.equal(h.tracing.randomSampling.value, 10);
    const g = hcms(ratings, t);
    for (const h of g.inbound) assert.equal(h.tracing, undefined, 'server side off for ratings');
    for (const h of g.outbound) assert.equal(h.tracing.randomSampling.value, 10);
  });

  it('OpenTelemetry provider: gRPC service on the collector cluster, span service name from the workload', () => {
    const { outbound } = hcms(reviews, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: otel}]}]
`);
    const o = outbound[0]!.tracing.provider.typedConfig;
    assert.equal(o.grpcService.envoyGrpc.clusterName, 'outbound|4317||otel-collector.observability.svc.cluster.local');
    assert.equal(o.serviceName, 'reviews.default');
    const other = hcms(ratings, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: otel}]}]
`);
    assert.equal(other.outbound[0]!.tracing.provider.typedConfig.serviceName, 'ratings.default', 'outbound listeners are not shared across workloads under an OpenTelemetry tracer');
    assert.equal(outbound[0]!.tracing.randomSampling.value, 1, 'sampling falls back to PILOT_TRACE_SAMPLING');
  });

  it('in one push, workloads of a namespace share outbound listeners except under an OpenTelemetry tracer', () => {
    const otel = `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  tracing: [{providers: [{name: otel}]}]\n`;
    const push = pushContext(`${RICH_CONFIG}\n---\n${otel}`, [...RICH_SERVICES, ZIPKIN_SVC, OTEL_SVC] as never, RICH_ENDPOINTS, MESH);
    const names = [reviews, ratings].map((p) => {
      const l = generateAll(p, push).listeners.map((x) => x.resource as Json).find((x) => x.name === '0.0.0.0_9080')!;
      return l.filterChains[0].filters[0].typedConfig.tracing.provider.typedConfig.serviceName;
    });
    assert.deepEqual(names, ['reviews.default', 'ratings.default']);
  });

  it('legacy MeshConfig: sampling from defaultConfig.tracing, no provider without an address, nothing with enableTracing false', () => {
    const none = hcms(reviews, '', { ...defaultMeshConfig(), defaultConfig: { ...defaultMeshConfig().defaultConfig, tracing: { sampling: 25 } } });
    assert.equal(none.outbound[0]!.tracing.randomSampling.value, 25);
    assert.equal(none.outbound[0]!.tracing.provider, undefined);
    const zipkin = hcms(reviews, '', { ...defaultMeshConfig(), defaultConfig: { ...defaultMeshConfig().defaultConfig, tracing: { sampling: 100, zipkin: { address: 'zipkin.istio-system:9411' } } } });
    assert.equal(zipkin.outbound[0]!.tracing.provider.typedConfig.collectorCluster, 'outbound|9411||zipkin.istio-system.svc.cluster.local');
    const off = hcms(reviews, '', { ...defaultMeshConfig(), enableTracing: false });
    assert.equal(off.outbound[0]!.tracing, undefined);
  });

  it('access logging: Telemetry providers with a CEL filter, per mode; disabled turns the mesh log off', () => {
    const { inbound, outbound } = hcms(reviews, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: json-log}]
    filter: {expression: "response.code >= 400"}
  - match: {mode: SERVER}
    disabled: true
`, { ...MESH, accessLogFile: '/dev/stdout' });
    for (const h of outbound) {
      assert.equal(h.accessLog.length, 1);
      assert.equal(h.accessLog[0].typedConfig.path, '/dev/stderr');
      assert.deepEqual(h.accessLog[0].typedConfig.logFormat.jsonFormat, { code: '%RESPONSE_CODE%' });
      assert.equal(h.accessLog[0].filter.extensionFilter.typedConfig.expression, 'response.code >= 400');
    }
    for (const h of inbound) assert.equal(h.accessLog, undefined);
  });

  it('metrics: ALL_METRICS disabled drops istio.stats; tag overrides and drops become the stats PluginConfig', () => {
    const off = hcms(reviews, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics: [{providers: [{name: prometheus}], overrides: [{match: {metric: ALL_METRICS, mode: CLIENT}, disabled: true}]}]
`);
    for (const h of off.outbound) assert.ok(!h.httpFilters.some((f: Json) => f.name === 'istio.stats'));
    for (const h of off.inbound) assert.ok(h.httpFilters.some((f: Json) => f.name === 'istio.stats'));
    const tags = hcms(reviews, `
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        destination_port: {value: "string(destination.port)"}
    - match: {metric: REQUEST_DURATION}
      disabled: true
`);
    const stats = tags.outbound[0]!.httpFilters.find((f: Json) => f.name === 'istio.stats').typedConfig.value;
    assert.deepEqual(stats.metrics, [
      { name: 'requests_total', dimensions: { destination_port: 'string(destination.port)' }, tags_to_remove: ['request_protocol'] },
      { name: 'request_duration_milliseconds', drop: true },
    ]);
  });
});
