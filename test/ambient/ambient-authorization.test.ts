import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import type { PeerAuthenticationSpec } from '../../src/api/istio/peer-authentication.ts';
import { convertAuthorizationPolicy, hasEffectiveRules } from '../../src/control/ambient/ambient-authorization.ts';
import { convertPeerAuthentication, peerAuthenticationKeys } from '../../src/control/ambient/ambient-peer-authentication.ts';

/** istiod's conversion of AuthorizationPolicy/PeerAuthentication for ztunnel (L4 only). */
function res<S>(kind: string, namespace: string, name: string, spec: S, created = '2024-01-01T00:00:00Z'): ConfigResource<S> {
  const metadata = { name, namespace, creationTimestamp: created };
  return { apiVersion: 'security.istio.io/v1', kind, group: 'security.istio.io', version: 'v1', metadata, spec, raw: { metadata, spec } };
}

describe('AuthorizationPolicy → istio.security.Authorization', () => {
  it('converts sources, operations and conditions into groups of rules (scope from the selector)', () => {
    const { authorization, message } = convertAuthorizationPolicy(
      res('AuthorizationPolicy', 'ns1', 'full', {
        selector: { matchLabels: { app: 'a' } },
        action: 'DENY',
        rules: [
          {
            from: [{ source: { principals: ['*'], notNamespaces: ['kube-*'], serviceAccounts: ['sa1', 'other/sa2'], ipBlocks: ['10.0.0.0/8', '1.2.3.4', 'bogus'] } }],
            to: [{ operation: { ports: ['80', '99999', 'x'], notPorts: ['90'] } }],
            when: [{ key: 'destination.ip', values: ['10.1.0.0/16'] }, { key: 'source.principal', notValues: ['*/sa/admin'] }],
          },
        ],
      }),
      'istio-system',
    );
    assert.equal(message, undefined);
    assert.deepEqual(authorization, {
      name: 'full',
      namespace: 'ns1',
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
      groups: [
        {
          rules: [
            { matches: [{ destinationPorts: [80], notDestinationPorts: [90] }] },
            {
              matches: [
                {
                  sourceIps: [
                    { address: Buffer.from([10, 0, 0, 0]).toString('base64'), length: 8 },
                    { address: Buffer.from([1, 2, 3, 4]).toString('base64'), length: 32 },
                  ],
                  notNamespaces: [{ prefix: 'kube-' }],
                  serviceAccounts: [
                    { namespace: 'ns1', serviceAccount: 'sa1' },
                    { namespace: 'other', serviceAccount: 'sa2' },
                  ],
                  principals: [{ presence: {} }],
                },
              ],
            },
            { matches: [{ destinationIps: [{ address: Buffer.from([10, 1, 0, 0]).toString('base64'), length: 16 }] }] },
            { matches: [{ notPrincipals: [{ suffix: '/sa/admin' }] }] },
          ],
        },
      ],
    });
  });

  it('scopes a policy without selector to its namespace, or the mesh in the root namespace', () => {
    assert.equal(convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'p', {}), 'istio-system').authorization?.scope, 'NAMESPACE');
    assert.equal(convertAuthorizationPolicy(res('AuthorizationPolicy', 'istio-system', 'p', {}), 'istio-system').authorization?.scope, 'GLOBAL');
    assert.deepEqual(convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'allow-nothing', { action: 'ALLOW' }), 'istio-system').authorization?.groups, [], 'ALLOW with no rules: matches nothing');
  });

  it('drops an ALLOW rule with HTTP attributes (more restrictive) and says so', () => {
    const { authorization, message } = convertAuthorizationPolicy(
      res('AuthorizationPolicy', 'ns1', 'http', { rules: [{ to: [{ operation: { methods: ['GET'], ports: ['80'] } }] }, { from: [{ source: { namespaces: ['a'] } }] }] }),
      'istio-system',
    );
    assert.deepEqual(authorization?.groups, [{ rules: [{ matches: [{ namespaces: [{ exact: 'a' }] }] }] }]);
    assert.match(message ?? '', /ztunnel does not support HTTP attributes \(found: methods\)\. In ambient mode you must use a waypoint proxy/);
    assert.match(message ?? '', /rules matching HTTP attributes are omitted/);
  });

  it('keeps the L4 part of a DENY rule with HTTP attributes; a DENY left with nothing has no effect', () => {
    const mixed = convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'd', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'], ports: ['8080'] } }] }] }), 'istio-system');
    assert.deepEqual(mixed.authorization?.groups, [{ rules: [{ matches: [{ destinationPorts: [8080] }] }] }]);
    assert.match(mixed.message ?? '', /enforced without the HTTP rules/);
    const none = convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'd', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }), 'istio-system');
    assert.deepEqual(none.authorization?.groups, [{ rules: [{ matches: [{}] }] }]);
    assert.equal(hasEffectiveRules(none.authorization!.groups!), false);
    assert.match(none.message ?? '', /will have no effect/);
  });

  it('does not send targetRef policies (waypoints) and refuses CUSTOM/AUDIT', () => {
    assert.deepEqual(convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'wp', { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }] }), 'istio-system'), {});
    const custom = convertAuthorizationPolicy(res('AuthorizationPolicy', 'ns1', 'c', { action: 'CUSTOM', provider: { name: 'x' } }), 'istio-system');
    assert.equal(custom.authorization, undefined);
    assert.equal(custom.message, 'ztunnel does not support the CUSTOM action');
  });
});

const pa = (namespace: string, name: string, spec: PeerAuthenticationSpec): ConfigResource<PeerAuthenticationSpec> => res('PeerAuthentication', namespace, name, spec);

describe('PeerAuthentication for ztunnel', () => {
  const strictRoot = pa( 'istio-system', 'default', { mtls: { mode: 'STRICT' } });
  const permissiveNs = pa( 'ns1', 'ns', { mtls: { mode: 'PERMISSIVE' } });

  it('a STRICT workload policy with a PERMISSIVE port becomes a DENY that exempts the port', () => {
    const p = pa( 'ns1', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } });
    assert.deepEqual(convertPeerAuthentication(p, undefined, undefined, 'istio-system'), {
      name: 'converted_peer_authentication_w',
      namespace: 'ns1',
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
      groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }, { matches: [{ notDestinationPorts: [9090] }] }] }],
    });
    assert.deepEqual(peerAuthenticationKeys([p], 'istio-system'), ['ns1/converted_peer_authentication_w']);
  });

  it('a STRICT port under a PERMISSIVE policy denies plaintext on that port only', () => {
    const p = pa( 'ns1', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '8080': { mode: 'STRICT' } } });
    assert.deepEqual(convertPeerAuthentication(p, undefined, undefined, 'istio-system')?.groups, [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }], destinationPorts: [8080] }] }] }]);
  });

  it('workloads reference the static STRICT policy when the effective mode is STRICT', () => {
    assert.deepEqual(peerAuthenticationKeys([strictRoot], 'istio-system'), ['istio-system/istio_converted_static_strict']);
    assert.deepEqual(peerAuthenticationKeys([strictRoot, permissiveNs], 'istio-system'), [], 'the namespace policy overrides the mesh');
    const w = pa( 'ns1', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } });
    assert.deepEqual(peerAuthenticationKeys([strictRoot, permissiveNs, w], 'istio-system'), ['istio-system/istio_converted_static_strict']);
    assert.equal(convertPeerAuthentication(w, permissiveNs, strictRoot, 'istio-system'), undefined, 'a STRICT policy without port exceptions needs no policy of its own');
  });

  it('merges an inherited STRICT mode into a workload policy with a PERMISSIVE port', () => {
    const w = pa( 'ns1', 'w', { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } });
    assert.deepEqual(convertPeerAuthentication(w, undefined, strictRoot, 'istio-system')?.groups, [
      { rules: [{ matches: [{ notDestinationPorts: [9090] }] }, { matches: [{ notPrincipals: [{ presence: {} }] }] }] },
    ]);
    assert.deepEqual(peerAuthenticationKeys([strictRoot, w], 'istio-system'), ['ns1/converted_peer_authentication_w']);
  });
});
