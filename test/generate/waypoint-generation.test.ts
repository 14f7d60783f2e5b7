import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAmbientIndex } from '../../src/control/ambient/ambient-index.ts';
import { GeneratorRegistry } from '../../src/control/generate/generator-registry.ts';
import { PushContext } from '../../src/control/push/push-context.ts';
import { classifyChange } from '../../src/control/registry/classify-change.ts';
import { RegistryBuilder } from '../../src/control/registry/registry-builder.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { configFromYaml, proxy } from '../support/generate-fixture.ts';

type Json = Record<string, any>;

const gateway = (ready: boolean, extraLabels = ''): string => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default${extraLabels ? `, labels: {${extraLabels}}` : ''}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
${ready ? 'status:\n  addresses: [{type: Hostname, value: waypoint.default.svc.cluster.local}]\n' : ''}`;

const BASE = `apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: default, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 8000, targetPort: 8080}]
  selector: {app: httpbin}
---
apiVersion: v1
kind: Pod
metadata: {name: httpbin-1, namespace: default, labels: {app: httpbin}, annotations: {ambient.istio.io/redirection: enabled}}
spec: {serviceAccountName: httpbin, containers: [{name: httpbin, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.244.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: default}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/headers"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-selector, namespace: default}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/selected"]}}]}]
`;

function push(yaml: string): PushContext {
  const config = configFromYaml(yaml);
  const registry = new RegistryBuilder().build(config, {});
  return new PushContext({ config, registry, mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' } });
}

const WAYPOINT = proxy({ type: 'waypoint', ip: '10.244.0.3', pod: 'waypoint-1', labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } });

function generate(p: ReturnType<typeof proxy>, ctx: PushContext, typeUrl: string): Json[] {
  return new GeneratorRegistry().get(typeUrl, p)!.generate(p, ctx, {}).map((r) => r.resource as Json);
}

describe('waypoints in the workload API and in a waypoint\'s xDS', () => {
  it('binds a labelled service to a ready waypoint only (workload API Service.waypoint)', () => {
    const svc = (yaml: string) => buildAmbientIndex(push(yaml).config, push(yaml).registry, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' }).lookup('default/httpbin.default.svc.cluster.local')[0]!.resource.service!;
    assert.deepEqual(svc(`${BASE}---\n${gateway(true)}`).waypoint, { hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' }, hboneMtlsPort: 15008 });
    assert.equal(svc(`${BASE}---\n${gateway(false)}`).waypoint, undefined, 'a waypoint without a status address is not ready');
    assert.equal(svc(`${BASE}---\n${gateway(true, 'istio.io/waypoint-for: workload')}`).waypoint, undefined, 'a workload-only waypoint serves no service');
  });

  it('sends no Workload.waypoint for a namespace binding to a service waypoint', () => {
    const nsBound = BASE.replace('labels: {istio.io/dataplane-mode: ambient}', 'labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}');
    const p = push(`${nsBound}---\n${gateway(true)}`);
    const index = buildAmbientIndex(p.config, p.registry, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
    assert.equal(index.lookup('Kubernetes//Pod/default/httpbin-1')[0]!.resource.workload!.waypoint, undefined);
    assert.equal(index.lookup('default/httpbin.default.svc.cluster.local')[0]!.resource.service!.waypoint?.hostname?.hostname, 'waypoint.default.svc.cluster.local', 'the namespace label binds the service');
  });

  it('binds pods to a workload waypoint by their own label, else their namespace\'s (Workload.waypoint; `none` opts out)', () => {
    const wp = (nsLabel: string, podLabel: string, forLabel = 'istio.io/waypoint-for: workload') => {
      const yaml = BASE.replace('labels: {istio.io/dataplane-mode: ambient}', `labels: {istio.io/dataplane-mode: ambient${nsLabel}}`).replace('labels: {app: httpbin}, annotations', `labels: {app: httpbin${podLabel}}, annotations`);
      const p = push(`${yaml}---\n${gateway(true, forLabel)}`);
      return buildAmbientIndex(p.config, p.registry, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' }).lookup('Kubernetes//Pod/default/httpbin-1')[0]!.resource.workload!.waypoint;
    };
    const bound = { hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' }, hboneMtlsPort: 15008 };
    assert.deepEqual(wp(', istio.io/use-waypoint: waypoint', ''), bound, 'inherited from the namespace');
    assert.deepEqual(wp('', ', istio.io/use-waypoint: waypoint'), bound, 'the pod\'s own label');
    assert.deepEqual(wp('', ', istio.io/use-waypoint: waypoint', 'istio.io/waypoint-for: all'), bound, 'waypoint-for: all');
    assert.equal(wp(', istio.io/use-waypoint: waypoint', ', istio.io/use-waypoint: none'), undefined, 'the pod\'s none wins');
    assert.equal(wp('', ', istio.io/use-waypoint: waypoint', 'istio.io/waypoint-for: service'), undefined, 'a service waypoint serves no workload');
    assert.equal(wp('', ', istio.io/use-waypoint: other'), undefined, 'no such waypoint');
  });

  it('gives a workload waypoint sniffed direct chains on the bound pods\' addresses to `encap` (connect_originate)', () => {
    const yaml = BASE.replace('labels: {app: httpbin}, annotations', 'labels: {app: httpbin, istio.io/use-waypoint: waypoint}, annotations');
    const ctx = push(`${yaml}---\n${gateway(true, 'istio.io/waypoint-for: workload')}`);
    const [listener] = generate(WAYPOINT, ctx, TYPE_URL.listener);
    assert.ok(JSON.stringify(listener!.listenerFilters).includes('http_inspector'));
    const http = listener!.filterChains.find((c: Json) => c.name === 'direct-http');
    const tcp = listener!.filterChains.find((c: Json) => c.name === 'direct-tcp');
    assert.deepEqual(http.filterChainMatch, { prefixRanges: [{ addressPrefix: '10.244.0.2', prefixLen: 32 }], applicationProtocols: ['http/1.1', 'h2c'] });
    assert.deepEqual(tcp.filterChainMatch, { prefixRanges: [{ addressPrefix: '10.244.0.2', prefixLen: 32 }] });
    const hcm = http.filters[0].typedConfig;
    assert.equal(hcm.routeConfig.virtualHosts[0].routes[0].route.cluster, 'encap');
    assert.ok(JSON.stringify(hcm.httpFilters).includes('/headers'), 'the policy attached to the waypoint applies');
    assert.equal(tcp.filters.at(-1).typedConfig.cluster, 'encap');
    const encap = generate(WAYPOINT, ctx, TYPE_URL.cluster).find((c) => c.name === 'encap')!;
    assert.deepEqual(encap.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address, { envoyInternalAddress: { serverListenerName: 'connect_originate' } });
  });

  it('sends the waypoint main_internal with a chain per bound service VIP and port, and the policies attached by targetRefs only', () => {
    const ctx = push(`${BASE}---\n${gateway(true)}`);
    const [listener] = generate(WAYPOINT, ctx, TYPE_URL.listener);
    assert.equal(listener!.name, 'main_internal');
    assert.deepEqual(listener!.internalListener, {});
    const chain = listener!.filterChains[0];
    assert.deepEqual(chain.filterChainMatch, { prefixRanges: [{ addressPrefix: '10.96.0.10', prefixLen: 32 }], destinationPort: 8000 });
    const hcm = chain.filters[0].typedConfig;
    assert.equal(hcm.rds.routeConfigName, 'inbound-vip|8000|http|httpbin.default.svc.cluster.local');
    const text = JSON.stringify(hcm.httpFilters);
    assert.ok(text.includes('/headers'), 'the targetRef policy is in the waypoint');
    assert.ok(!text.includes('/selected'), 'a selector policy never reaches a waypoint');
    const [routes] = generate(WAYPOINT, ctx, TYPE_URL.route);
    assert.equal(routes!.virtualHosts[0].routes[0].route.cluster, 'outbound|8000||httpbin.default.svc.cluster.local');
  });

  it('reaches HBONE endpoints through connect_originate and sends no TLS socket of its own', () => {
    const ctx = push(`${BASE}---\n${gateway(true)}`);
    const cluster = generate(WAYPOINT, ctx, TYPE_URL.cluster).find((c) => c.name === 'outbound|8000||httpbin.default.svc.cluster.local')!;
    assert.equal(cluster.transportSocket, undefined);
    assert.equal(cluster.transportSocketMatches, undefined);
    const cla = generate(WAYPOINT, ctx, TYPE_URL.endpoint).find((c) => c.clusterName === 'outbound|8000||httpbin.default.svc.cluster.local')!;
    assert.deepEqual(cla.endpoints[0].lbEndpoints[0].endpoint.address, { envoyInternalAddress: { serverListenerName: 'connect_originate', endpointId: '10.244.0.2:8080' } });
  });

  it('sends HBONE-enabled sidecars ambient endpoints through connect_originate, others plain addresses', () => {
    const ctx = push(`${BASE}---\n${gateway(true)}`);
    const cla = (p: ReturnType<typeof proxy>) => generate(p, ctx, TYPE_URL.endpoint).find((c) => c.clusterName === 'outbound|8000||httpbin.default.svc.cluster.local')!.endpoints[0].lbEndpoints[0].endpoint.address;
    const hbone = { ...proxy({ namespace: 'legacy' }), metadata: { ENABLE_HBONE: 'true' } };
    assert.deepEqual(cla(hbone), { envoyInternalAddress: { serverListenerName: 'connect_originate', endpointId: '10.244.0.2:8080' } });
    assert.deepEqual(cla(proxy({ namespace: 'legacy' })), { socketAddress: { address: '10.244.0.2', portValue: 8080 } }, 'no ISTIO_META_ENABLE_HBONE: no HBONE');
  });

  it('sends an ingress gateway to the service\'s waypoint with istio.io/ingress-use-waypoint (else to the endpoints)', () => {
    const waypointPod = `apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: default, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, containers: [{name: istio-proxy}]}
status: {phase: Running, podIP: 10.244.0.3, conditions: [{type: Ready, status: "True"}]}
`;
    const router = { ...proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' } }), metadata: { ENABLE_HBONE: 'true' } };
    const eds = (yaml: string) => generate(router, push(yaml), TYPE_URL.endpoint).find((c) => c.clusterName === 'outbound|8000||httpbin.default.svc.cluster.local')!.endpoints[0].lbEndpoints[0];
    const labelled = BASE.replace('labels: {istio.io/use-waypoint: waypoint}', 'labels: {istio.io/use-waypoint: waypoint, istio.io/ingress-use-waypoint: "true"}');
    const viaWaypoint = eds(`${labelled}---\n${gateway(true)}---\n${waypointPod}`);
    assert.deepEqual(viaWaypoint.endpoint.address, { envoyInternalAddress: { serverListenerName: 'connect_originate', endpointId: '10.96.0.10:8000' } });
    assert.deepEqual(viaWaypoint.metadata.filterMetadata.tunnel, { address: '10.244.0.3:15008', destination: '10.96.0.10:8000' });
    assert.deepEqual(eds(`${BASE}---\n${gateway(true)}---\n${waypointPod}`).endpoint.address.envoyInternalAddress.endpointId, '10.244.0.2:8080', 'without the label: the pods');
    const p = push(`${labelled}---\n${gateway(true)}`);
    assert.equal(buildAmbientIndex(p.config, p.registry, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' }).lookup('default/httpbin.default.svc.cluster.local')[0]!.resource.service!.ingressUseWaypoint, true);
  });

  it('attaches a targetRef policy to the gateway deployed for that Gateway, never to sidecars', () => {
    const yaml = `${BASE.replace(/name: waypoint\}\]\n  action: DENY/, 'name: ingress}]\n  action: DENY')}`;
    const ctx = push(yaml);
    const router = proxy({ type: 'router', namespace: 'default', labels: { 'gateway.networking.k8s.io/gateway-name': 'ingress' } });
    assert.deepEqual(ctx.authorizationPoliciesFor(router).map((p) => p.metadata.name), ['deny-headers']);
    assert.deepEqual(ctx.authorizationPoliciesFor(proxy({ namespace: 'default', labels: { app: 'httpbin' } })).map((p) => p.metadata.name), ['by-selector']);
  });

  it('pushes config when only a Gateway\'s status changes (its waypoint becomes ready)', () => {
    const [before] = configFromYaml(gateway(false)).list('KubernetesGateway');
    const [afterReady] = configFromYaml(gateway(true)).list('KubernetesGateway');
    assert.equal(classifyChange({ kind: 'KubernetesGateway', group: 'gateway.networking.k8s.io', namespace: 'default', name: 'waypoint', old: before, new: afterReady }), 'config');
  });
});
