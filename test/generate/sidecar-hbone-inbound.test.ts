import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAmbientIndex } from '../../src/control/ambient/ambient-index.ts';
import { GeneratorRegistry } from '../../src/control/generate/generator-registry.ts';
import { PushContext } from '../../src/control/push/push-context.ts';
import { RegistryBuilder } from '../../src/control/registry/registry-builder.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { configFromYaml, proxy } from '../support/generate-fixture.ts';

type Json = Record<string, any>;

/**
 * A sidecar that runs with ISTIO_META_ENABLE_HBONE=true (istiod's buildInboundHBONEListeners):
 * `main_internal` carries its inbound chains without TLS, on its own addresses only; its pod,
 * labelled `networking.istio.io/tunnel: http` by the injector, is an HBONE workload for ztunnel;
 * other sidecars still reach it with Istio mTLS (Mizzen's choice, see hbone-endpoints.ts).
 */
const YAML = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: legacy}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: http, port: 80, targetPort: 8080}, {name: tcp-db, port: 5432, targetPort: 5432}]
  selector: {app: web}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: legacy
  labels: {app: web, security.istio.io/tlsMode: istio, networking.istio.io/tunnel: http}
  annotations: {sidecar.istio.io/status: '{}'}
spec: {serviceAccountName: web, containers: [{name: web, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.244.0.7, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: legacy}
spec: {mtls: {mode: STRICT}}
`;

function push(yaml: string): PushContext {
  const config = configFromYaml(yaml);
  return new PushContext({ config, registry: new RegistryBuilder().build(config, {}), mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' } });
}

const generate = (p: ReturnType<typeof proxy>, ctx: PushContext, typeUrl: string): Json[] => new GeneratorRegistry().get(typeUrl, p)!.generate(p, ctx, {}).map((r) => r.resource as Json);

describe('HBONE inbound of a sidecar with ENABLE_HBONE', () => {
  const web = proxy({ namespace: 'legacy', ip: '10.244.0.7', pod: 'web-1', labels: { app: 'web' }, serviceAccount: 'web' });

  it('sends main_internal with the inbound chains, plaintext, on the pod\'s own address', () => {
    const ctx = push(YAML);
    const internal = generate({ ...web, metadata: { ENABLE_HBONE: 'true' } }, ctx, TYPE_URL.listener).find((l) => l.name === 'main_internal');
    assert.ok(internal, 'main_internal sent');
    assert.deepEqual(internal.internalListener, {});
    const chains = internal.filterChains as Json[];
    for (const c of chains) {
      assert.deepEqual(c.filterChainMatch.prefixRanges, [{ addressPrefix: '10.244.0.7', prefixLen: 32 }]);
      assert.equal(c.transportSocket, undefined, `${c.name}: no TLS inside the tunnel`);
    }
    const http = chains.find((c) => c.filterChainMatch.destinationPort === 8080)!;
    assert.match(JSON.stringify(http.filters), /inbound\|8080\|\|/);
    assert.ok(chains.some((c) => c.filterChainMatch.destinationPort === 5432 && JSON.stringify(c.filters).includes('tcp_proxy')));
    assert.deepEqual(chains.slice(-2).map((c) => c.name), ['virtualInbound-catchall-http', 'virtualInbound']);
    assert.equal(generate(web, ctx, TYPE_URL.listener).find((l) => l.name === 'main_internal'), undefined, 'no ENABLE_HBONE: no HBONE inbound');
    assert.equal(generate({ ...proxy({ type: 'router', namespace: 'istio-system' }), metadata: { ENABLE_HBONE: 'true' } }, ctx, TYPE_URL.listener).find((l) => l.name === 'main_internal'), undefined, 'gateways get none');
  });

  it('makes the pod an HBONE workload for ztunnel, while other sidecars keep Istio mTLS to it', () => {
    const ctx = push(YAML);
    const w = buildAmbientIndex(ctx.config, ctx.registry, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' }).lookup('Kubernetes//Pod/legacy/web-1')[0]!.resource.workload!;
    assert.equal(w.tunnelProtocol, 'HBONE');
    assert.equal(w.nativeTunnel, true);
    const client = { ...proxy({ namespace: 'legacy' }), metadata: { ENABLE_HBONE: 'true' } };
    const cla = generate(client, ctx, TYPE_URL.endpoint).find((c) => c.clusterName === 'outbound|80||web.legacy.svc.cluster.local')!;
    assert.deepEqual(cla.endpoints[0].lbEndpoints[0].endpoint.address, { socketAddress: { address: '10.244.0.7', portValue: 8080 } });
  });
});
