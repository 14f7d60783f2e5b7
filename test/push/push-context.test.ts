import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxy, pushContext } from '../support/generate-fixture.ts';

const services = [
  { name: 'a', namespace: 'svc-ns', vip: '10.96.1.1', ports: [{ port: 80 }] },
  { name: 'b', namespace: 'svc-ns', vip: '10.96.1.2', ports: [{ port: 80 }], exportTo: ['.'] },
  { name: 'c', namespace: 'other', vip: '10.96.1.3', ports: [{ port: 80 }], exportTo: ['client-ns'] },
];

function dr(name: string, ns: string, host: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { host: "${host}"${extra} }\n---\n`;
}

describe('PushContext', () => {
  const client = proxy({ namespace: 'client-ns', labels: { app: 'client' } });

  it('picks DestinationRules by namespace: the proxy namespace, then the service namespace, then the root namespace', () => {
    const yaml = dr('root', 'istio-system', '*.svc.cluster.local') + dr('svc', 'svc-ns', 'a.svc-ns.svc.cluster.local') + dr('client', 'client-ns', 'a.svc-ns.svc.cluster.local');
    const push = pushContext(yaml, services);
    const a = { hostname: 'a.svc-ns.svc.cluster.local', namespace: 'svc-ns' };
    assert.equal(push.destinationRuleFor(client, a)?.name, 'client');
    assert.equal(push.destinationRuleFor(proxy({ namespace: 'elsewhere' }), a)?.name, 'svc');
    assert.equal(push.destinationRuleFor(proxy({ namespace: 'elsewhere' }), { hostname: 'z.q.svc.cluster.local', namespace: 'q' })?.name, 'root');
  });

  it('prefers the most specific host inside a namespace and honours exportTo and workloadSelector', () => {
    const yaml =
      dr('wild', 'svc-ns', '*.svc-ns.svc.cluster.local') +
      dr('exact-private', 'svc-ns', 'a.svc-ns.svc.cluster.local', ', exportTo: ["."]') +
      dr('selected', 'client-ns', 'a.svc-ns.svc.cluster.local', ', workloadSelector: { matchLabels: { app: other } }');
    const push = pushContext(yaml, services);
    const a = { hostname: 'a.svc-ns.svc.cluster.local', namespace: 'svc-ns' };
    assert.equal(push.destinationRuleFor(client, a)?.name, 'wild', 'exact rule is private to svc-ns, selector does not match');
    assert.equal(push.destinationRuleFor(proxy({ namespace: 'svc-ns' }), a)?.name, 'exact-private');
    assert.equal(push.destinationRuleFor(proxy({ namespace: 'client-ns', labels: { app: 'other' } }), a)?.name, 'selected');
  });

  it('shows a proxy only the services exported to its namespace', () => {
    const push = pushContext('', services);
    assert.deepEqual(push.servicesVisibleTo(client).map((s) => s.name), ['a', 'c']);
    assert.deepEqual(push.servicesVisibleTo(proxy({ namespace: 'svc-ns' })).map((s) => s.name), ['a', 'b']);
  });

  it('narrows visibility to the Sidecar egress hosts (workload selector first, then namespace default, then root)', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec: { egress: [{ hosts: ["svc-ns/*"] }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: special, namespace: client-ns }
spec: { workloadSelector: { labels: { app: special } }, egress: [{ hosts: ["other/c.other.svc.cluster.local"] }] }
`;
    const push = pushContext(yaml, services);
    assert.deepEqual(push.servicesVisibleTo(client).map((s) => s.name), ['a']);
    assert.deepEqual(push.servicesVisibleTo(proxy({ namespace: 'client-ns', labels: { app: 'special' } })).map((s) => s.name), ['c']);
  });

  it('resolves the effective mTLS mode from mesh, namespace, workload and port-level policies', () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: w, namespace: client-ns }
spec: { selector: { matchLabels: { app: client } }, mtls: { mode: UNSET }, portLevelMtls: { "8080": { mode: PERMISSIVE } } }
`;
    const push = pushContext(yaml, services);
    const m = push.mtlsFor(client);
    assert.equal(m.mode, 'STRICT');
    assert.deepEqual([...m.ports], [[8080, 'PERMISSIVE']]);
    assert.equal(push.mtlsFor(proxy({ namespace: 'x', labels: {} })).mode, 'STRICT');
    assert.equal(pushContext('', services).mtlsFor(client).mode, 'PERMISSIVE');
  });

  it('says which config changes a proxy depends on, for scoped pushes', () => {
    const push = pushContext('', services);
    const vs = (ns: string, hosts: string[], exportTo?: string[]) => ({ kind: 'VirtualService', namespace: ns, name: 'v', resource: { spec: { hosts, ...(exportTo ? { exportTo } : {}) } } });
    const dep = (r: ReturnType<typeof vs>) => push.dependsOn(client, r, r.resource as never);
    assert.equal(dep(vs('svc-ns', ['a'])), true);
    assert.equal(dep(vs('svc-ns', ['b'])), false, 'b is not visible from client-ns');
    assert.equal(dep(vs('svc-ns', ['a'], ['.'])), false, 'not exported to client-ns');
    assert.equal(push.dependsOn(client, { kind: 'AuthorizationPolicy', namespace: 'svc-ns', name: 'x' }), false);
    assert.equal(push.dependsOn(client, { kind: 'AuthorizationPolicy', namespace: 'istio-system', name: 'x' }), true);
    assert.equal(push.dependsOn(client, { kind: 'Gateway', namespace: 'client-ns', name: 'g' }), false);
    assert.equal(push.dependsOn(proxy({ type: 'router' }), { kind: 'Gateway', namespace: 'client-ns', name: 'g' }), true);
  });

  it('binds VirtualServices to gateways by short name, ns/name, and mesh by default', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: v, namespace: client-ns }
spec: { hosts: [a.svc-ns.svc.cluster.local], gateways: [gw, istio-system/ingress, mesh], http: [{ route: [{ destination: { host: a.svc-ns.svc.cluster.local } }] }] }
`;
    const push = pushContext(yaml, services);
    assert.equal(push.virtualServicesFor(client, 'client-ns/gw').length, 1);
    assert.equal(push.virtualServicesFor(client, 'istio-system/ingress').length, 1);
    assert.equal(push.virtualServicesFor(client, 'mesh').length, 1);
    assert.equal(push.virtualServicesFor(client, 'other/gw').length, 0);
  });
});
