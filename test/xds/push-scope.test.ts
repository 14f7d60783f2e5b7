import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { ConfigStore } from '../../src/control/config/config-store.ts';
import type { ConfigChange } from '../../src/control/config/config-store-reader.ts';
import { PushContext } from '../../src/control/push/push-context.ts';
import { defaultClassify, requestFromChanges } from '../../src/control/push/push-request.ts';
import { scopePush } from '../../src/control/push/push-scope.ts';
import type { RegistrySnapshot, Service } from '../../src/control/registry/service.ts';
import { parseProxyInfo, type ProxyInfo } from '../../src/control/xds/proxy-info.ts';

function res(kind: string, ns: string, name: string, spec: Record<string, unknown>): ConfigResource {
  const apiVersion = 'networking.istio.io/v1';
  return { apiVersion, kind, group: 'networking.istio.io', version: 'v1', metadata: { name, namespace: ns }, spec, raw: { apiVersion, kind, metadata: { name, namespace: ns }, spec } };
}

function service(host: string, ns: string, exportTo: string[]): Service {
  return { hostname: host, namespace: ns, ports: [{ name: 'http', port: 80, protocol: 'HTTP' }], addresses: [], resolution: 'STATIC', location: 'MESH_INTERNAL', exportTo, labels: {}, registry: 'ServiceEntry', source: `networking.istio.io/ServiceEntry/${ns}/${host}` };
}

// The registry builder is another component; a fixed snapshot of services is enough here.
function registry(services: Service[]): RegistrySnapshot {
  return { services, workloads: [], servicesByHost: (h) => services.filter((s) => s.hostname === h), endpoints: () => [] };
}

function proxy(pod: string, ns: string): ProxyInfo {
  const r = parseProxyInfo({ id: `sidecar~10.0.0.1~${pod}.${ns}~${ns}.svc.cluster.local` });
  assert.ok(r.ok);
  return r.proxy;
}

describe('scopePush', () => {
  const store = new ConfigStore();
  store.apply('test', [res('Sidecar', 'b', 'default', { egress: [{ hosts: ['./*'] }] })]);
  const push = new PushContext({
    config: store,
    registry: registry([service('private.a.svc.cluster.local', 'a', ['.']), service('shared.example.com', 'a', ['*'])]),
    mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local' },
  });
  const pa = proxy('pa', 'a');
  const pb = proxy('pb', 'b');
  const pc = proxy('pc', 'c');
  const scope = (changes: ConfigChange[]) => scopePush(requestFromChanges(changes, 0)!, push, defaultClassify);
  const change = (r: ConfigResource): ConfigChange => ({ kind: r.kind, group: r.group, namespace: r.metadata.namespace, name: r.metadata.name, old: undefined, new: r });

  const allButEds = Object.values(TYPE_URL).filter((t) => t !== TYPE_URL.endpoint);
  const routesAndListeners = allButEds.filter((t) => t !== TYPE_URL.cluster);

  it('reaches only proxies that can see the host a VirtualService changes', () => {
    const s = scope([change(res('VirtualService', 'a', 'vs', { hosts: ['private.a.svc.cluster.local'], http: [] }))]);
    assert.deepEqual(s(pa), routesAndListeners, 'a VirtualService cannot change endpoints (no EDS, as istiod) nor clusters (no CDS)');
    assert.equal(s(pb), undefined);
    assert.equal(s(pc), undefined);
  });

  it('honours a Sidecar egress scope (namespace b only sees its own namespace)', () => {
    const s = scope([change(res('DestinationRule', 'a', 'dr', { host: 'shared.example.com' }))]);
    assert.equal(s(pa), 'all');
    assert.equal(s(pc), 'all');
    assert.equal(s(pb), undefined);
  });

  it('sends a Sidecar or namespace policy change only to that namespace, root namespace to all', () => {
    const s = scope([change(res('Sidecar', 'c', 'default', {}))]);
    assert.deepEqual([s(pa), s(pb), s(pc)], [undefined, undefined, 'all']);
    const r = scope([change({ ...res('PeerAuthentication', 'istio-system', 'default', { mtls: { mode: 'STRICT' } }), group: 'security.istio.io' })]);
    assert.deepEqual([r(pa), r(pb), r(pc)], ['all', 'all', 'all']);
  });

  it('pushes only endpoint types (EDS, workload addresses, the NDS name table of headless services) for an endpoint-only change', () => {
    const s = scope([change(res('WorkloadEntry', 'a', 'we', { address: '10.1.1.1' }))]);
    assert.deepEqual(s(pa), [TYPE_URL.endpoint, TYPE_URL.workloadAddress, TYPE_URL.nameTable]);
  });

  it('pushes EDS too when a VirtualService change comes with an endpoint or DestinationRule change', () => {
    const vs = change(res('VirtualService', 'a', 'vs', { hosts: ['private.a.svc.cluster.local'], http: [] }));
    assert.equal(scope([vs, change(res('WorkloadEntry', 'a', 'we', { address: '10.1.1.1' }))])(pa), 'all');
    assert.equal(scope([vs, change(res('DestinationRule', 'a', 'dr', { host: 'shared.example.com' }))])(pa), 'all');
  });

  it('routes a Gateway change to gateways only', () => {
    const s = scope([change(res('Gateway', 'a', 'gw', { servers: [] }))]);
    assert.equal(s(pa), undefined);
    const router = parseProxyInfo({ id: 'router~10.0.0.9~gw-1.istio-system~istio-system.svc.cluster.local' });
    assert.ok(router.ok);
    assert.deepEqual(s(router.proxy), routesAndListeners);
  });

  it('pushes CDS when a kind the cluster generators read comes with a VirtualService', () => {
    const vs = change(res('VirtualService', 'a', 'vs', { hosts: ['private.a.svc.cluster.local'], http: [] }));
    const sidecar = change(res('Sidecar', 'a', 'default', { egress: [{ hosts: ['./*'] }] }));
    assert.equal(scope([vs, sidecar])(pa), 'all');
    const authz = change({ ...res('AuthorizationPolicy', 'a', 'deny', { action: 'DENY', rules: [{}] }), group: 'security.istio.io' });
    assert.deepEqual(scope([vs, authz])(pa), routesAndListeners);
  });
});
