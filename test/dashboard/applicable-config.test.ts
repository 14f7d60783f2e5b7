import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { serviceConfig, workloadConfig } from '../../src/dashboard/applicable-config.ts';

const GROUPS: Record<string, string> = {
  AuthorizationPolicy: 'security.istio.io',
  PeerAuthentication: 'security.istio.io',
  Telemetry: 'telemetry.istio.io',
  VirtualService: 'networking.istio.io',
  DestinationRule: 'networking.istio.io',
  ServiceEntry: 'networking.istio.io',
  Service: '',
};

function obj(kind: string, namespace: string, name: string, spec: Record<string, unknown>): ConfigResource {
  const group = GROUPS[kind]!;
  return { apiVersion: group ? `${group}/v1` : 'v1', kind, group, version: 'v1', metadata: { name, namespace }, spec, raw: { metadata: { name, namespace }, spec } };
}

const objects = [
  obj('Service', 'default', 'reviews', { selector: { app: 'reviews' }, ports: [{ port: 9080 }] }),
  obj('Service', 'default', 'ratings', { selector: { app: 'ratings' }, ports: [{ port: 9080 }] }),
  obj('PeerAuthentication', 'istio-system', 'default', { mtls: { mode: 'STRICT' } }),
  obj('AuthorizationPolicy', 'default', 'allow-nothing', {}),
  obj('AuthorizationPolicy', 'default', 'reviews-viewer', { selector: { matchLabels: { app: 'reviews' } }, rules: [{}] }),
  obj('AuthorizationPolicy', 'default', 'ratings-viewer', { selector: { matchLabels: { app: 'ratings' } }, rules: [{}] }),
  obj('AuthorizationPolicy', 'other', 'elsewhere', {}),
  obj('Telemetry', 'default', 'gateway-only', { targetRefs: [{ kind: 'Gateway', name: 'gw' }] }),
  obj('VirtualService', 'default', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] }),
  obj('VirtualService', 'default', 'shift', { hosts: ['bookinfo.example.com'], gateways: ['bookinfo-gateway'], http: [{ route: [{ destination: { host: 'reviews.default.svc.cluster.local' } }] }] }),
  obj('DestinationRule', 'default', 'reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }),
  obj('DestinationRule', 'default', 'ratings', { host: 'ratings' }),
  obj('ServiceEntry', 'default', 'external', { hosts: ['api.example.com'] }),
];

describe("the dashboard's applicable config", () => {
  it('lists the policies, routing and subsets that apply to a workload, saying why', () => {
    const got = workloadConfig(objects, { namespace: 'default', labels: { app: 'reviews', version: 'v2' } });
    assert.deepEqual(got.map((c) => `${c.kind} ${c.namespace}/${c.name}: ${c.why}`), [
      'PeerAuthentication istio-system/default: mesh-wide (root namespace istio-system)',
      'AuthorizationPolicy default/allow-nothing: namespace-wide (default)',
      'AuthorizationPolicy default/reviews-viewer: selects app=reviews',
      'DestinationRule default/reviews: subset v2 of reviews.default.svc.cluster.local',
      'VirtualService default/reviews: routes reviews.default.svc.cluster.local (mesh traffic)',
      'VirtualService default/shift: routes to reviews.default.svc.cluster.local (gateway bookinfo-gateway)',
      'DestinationRule default/reviews: traffic policy for reviews.default.svc.cluster.local',
    ], 'not: ratings-viewer (selects other pods), other/elsewhere (another namespace), a targetRefs Telemetry');
  });

  it('lists the networking config of a service host', () => {
    const got = serviceConfig(objects, 'ratings.default.svc.cluster.local').map((c) => `${c.kind} ${c.name}: ${c.why}`);
    assert.deepEqual(got, ['DestinationRule ratings: traffic policy for ratings.default.svc.cluster.local']);
    assert.deepEqual(serviceConfig(objects, 'api.example.com').map((c) => c.why), ['declares api.example.com']);
  });
});
