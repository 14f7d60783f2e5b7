import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderList } from '../../src/data/http1/header-list.ts';
import type { FilterContext, LocalReply } from '../../src/data/l7/http-filter.ts';
import { StreamInfo } from '../../src/data/l7/stream-info.ts';
import { createHttpRbacFilter, createNetworkRbacFilter } from '../../src/data/policy/rbac-filter.ts';
import { ResourceRejection } from '../../src/data/xds-client/resource-rejection.ts';

type Obj = Record<string, unknown>;

function ctx(o: { path?: string; method?: string; headers?: Record<string, string>; principal?: string; remote?: string; sni?: string; od?: string; md?: Obj } = {}): FilterContext {
  const headers = new HeaderList();
  for (const [k, v] of Object.entries(o.headers ?? {})) headers.add(k, v);
  const info = new StreamInfo();
  info.downstreamRemoteAddress = o.remote ?? '10.1.2.3';
  info.downstreamLocalAddress = '10.0.0.5';
  info.downstreamLocalPort = 9080;
  info.originalDestination = o.od ?? '';
  info.requestedServerName = o.sni ?? '';
  info.mtls = o.principal !== undefined;
  info.peerPrincipal = o.principal ?? '';
  if (o.md) info.filterState.set('envoy.filters.http.jwt_authn', o.md);
  return { request: { method: o.method ?? 'GET', path: o.path ?? '/', authority: 'svc', scheme: 'http', headers }, info, route: undefined };
}

const rbac = (config: Obj) => createHttpRbacFilter('envoy.filters.http.rbac', config, 'Listener l.filters[0].typedConfig');
const allowIf = (permission: Obj, principal: Obj = { any: true }) => rbac({ rules: { policies: { p: { permissions: [permission], principals: [principal] } } } });
const allowed = (f: ReturnType<typeof rbac>, c: FilterContext) => f.decodeHeaders!(c) === undefined;

describe('RBAC engine', () => {
  it('allows everything without rules and nothing with empty ALLOW rules', () => {
    assert.equal(allowed(rbac({}), ctx()), true);
    assert.equal(allowed(rbac({ rules: {} }), ctx()), false);
    assert.equal(allowed(rbac({ rules: { action: 'DENY' } }), ctx()), true);
  });

  it('matches url_path without the query string', () => {
    const f = allowIf({ urlPath: { path: { exact: '/a/b' } } });
    assert.equal(allowed(f, ctx({ path: '/a/b?x=1' })), true);
    assert.equal(allowed(f, ctx({ path: '/a/bc' })), false);
  });

  it('evaluates and/or/not, port ranges, SNI and destination IP (original destination first)', () => {
    const f = allowIf({ andRules: { rules: [
      { notRule: { header: { name: ':method', stringMatch: { exact: 'DELETE' } } } },
      { orRules: { rules: [{ destinationPortRange: { start: 9000, end: 9100 } }, { requestedServerName: { suffix: '.local' } }] } },
      { destinationIp: { addressPrefix: '10.0.0.0', prefixLen: { value: 24 } } },
    ] } });
    assert.equal(allowed(f, ctx()), true);
    assert.equal(allowed(f, ctx({ method: 'DELETE' })), false);
    assert.equal(allowed(f, ctx({ od: '10.0.0.9:8080' })), false);
    assert.equal(allowed(f, ctx({ od: '10.0.0.9:8080', sni: 'outbound_.8080_._.a.local' })), true);
    assert.equal(allowed(f, ctx({ od: '10.9.0.9:9080' })), false);
  });

  it('matches principals: authenticated, not_id, and_ids, remote IPs', () => {
    const f = allowIf({ any: true }, { andIds: { ids: [
      { authenticated: { principalName: { prefix: 'spiffe://cluster.local/ns/default/' } } },
      { notId: { directRemoteIp: { addressPrefix: '10.9.0.0', prefixLen: { value: 16 } } } },
    ] } });
    assert.equal(allowed(f, ctx({ principal: 'spiffe://cluster.local/ns/default/sa/a' })), true);
    assert.equal(allowed(f, ctx({ principal: 'spiffe://cluster.local/ns/other/sa/a' })), false);
    assert.equal(allowed(f, ctx()), false, 'plaintext is never authenticated');
    assert.equal(allowed(f, ctx({ principal: 'spiffe://cluster.local/ns/default/sa/a', remote: '10.9.1.1' })), false);
  });

  it('matches dynamic metadata (JWT claims), including list claims', () => {
    const f = allowIf({ any: true }, { metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: 'groups' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'admin' } } } } } });
    assert.equal(allowed(f, ctx({ md: { payload: { groups: ['dev', 'admin'] } } })), true);
    assert.equal(allowed(f, ctx({ md: { payload: { groups: ['dev'] } } })), false);
    assert.equal(allowed(f, ctx()), false);
  });

  it('answers DENY matches with the matched policy in the details', () => {
    const f = rbac({ rules: { action: 'DENY', policies: { 'ns[x]-policy[b]-rule[0]': { permissions: [{ any: true }], principals: [{ any: true }] } } } });
    const v = f.decodeHeaders!(ctx()) as LocalReply;
    assert.equal(v.status, 403);
    assert.equal(v.body, 'RBAC: access denied');
    assert.equal(v.details, 'rbac_access_denied_matched_policy[ns[x]-policy[b]-rule[0]]');
    assert.equal(f.stats.denied, 1);
  });

  it('evaluates shadow rules without enforcing them and records the result', () => {
    const f = rbac({ shadowRules: { action: 'DENY', policies: { s: { permissions: [{ any: true }], principals: [{ any: true }] } } }, shadowRulesStatPrefix: 'istio_dry_run_allow_' });
    const c = ctx();
    assert.equal(allowed(f, c), true);
    assert.deepEqual(c.info.filterState.get('envoy.filters.http.rbac'), { istio_dry_run_allow_shadow_effective_policy_id: 's', istio_dry_run_allow_shadow_engine_result: 'denied' });
    assert.equal(f.stats.shadowDenied, 1);
  });

  it('LOG allows and marks matches for the access log', () => {
    const f = rbac({ rules: { action: 'LOG', policies: { l: { permissions: [{ any: true }], principals: [{ any: true }] } } } });
    const c = ctx();
    assert.equal(allowed(f, c), true);
    assert.deepEqual(c.info.filterState.get('envoy.common'), { access_log_hint: true });
  });

  it('network RBAC never matches HTTP-only fields', () => {
    const f = createNetworkRbacFilter('envoy.filters.network.rbac', { statPrefix: 'tcp.', rules: { policies: { p: { permissions: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }], principals: [{ any: true }] } } } }, 'l');
    assert.equal(f.onConnection(ctx().info), false);
  });

  it('rejects what it cannot honour, naming the field', () => {
    const bad: [Obj, RegExp][] = [
      [{ matcher: {} }, /typedConfig\.matcher: RBAC matcher trees/],
      [{ rules: { policies: { p: { permissions: [{ uriTemplate: {} }], principals: [{ any: true }] } } } }, /policies\[p\]\.permissions\[0\]\.uriTemplate\.typedConfig: path matcher without a type is not supported/],
      [{ rules: { policies: { p: { permissions: [{ uriTemplate: { name: 'u', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig', pathTemplate: '/a/**/*' } } }], principals: [{ any: true }] } } } }, /uriTemplate\.typedConfig\.pathTemplate: path template \/a\/\*\*\/\*: no operator may follow \*\*/],
      [{ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ filterState: {} }] } } } }, /principals\[0\]\.filterState/],
      [{ rules: { policies: { p: { permissions: [{ any: true }], principals: [] } } } }, /principals: a policy needs at least one principal/],
      [{ rules: { policies: { p: { permissions: [{ destinationIp: { addressPrefix: 'nope' } }], principals: [{ any: true }] } } } }, /destinationIp\.addressPrefix: invalid CIDR/],
      [{ rules: { policies: { p: { permissions: [{ any: true, header: { name: 'a' } }], principals: [{ any: true }] } } } }, /only one of any, header/],
    ];
    for (const [config, re] of bad) {
      assert.throws(() => rbac(config), (err: unknown) => err instanceof ResourceRejection && re.test(err.message), JSON.stringify(config));
    }
  });
});
