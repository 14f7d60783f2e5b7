import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyRoot } from '../../src/api/xds/envoy-protos.ts';
import { TYPE_URL } from '../../src/api/xds/type-urls.ts';
import { DECODE_OPTIONS } from '../../src/control/xds/ads-service.ts';
import { DiscoveryRequestDecoder } from '../../src/control/xds/discovery-request-decoder.ts';
import { NameInterner } from '../../src/control/xds/name-interner.ts';
import { SubscriptionCache } from '../../src/control/xds/subscription-cache.ts';
import { jsonToStruct } from '../../src/control/xds/proxy-info.ts';

const root = loadEnvoyRoot();
const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const encode = (m: object): Buffer => Buffer.from(Req.encode(Req.fromObject(m)).finish());
/** protobufjs's object, less resource_locators (xDS-TP locators: not used by SotW streams here). */
const reference = (b: Buffer): unknown => {
  const { resourceLocators: _unused, ...rest } = Req.toObject(Req.decode(b), DECODE_OPTIONS);
  return rest;
};
const names = Array.from({ length: 1000 }, (_, i) => `outbound|8080||svc-${i}.bench.mesh.internal`);

describe('DiscoveryRequestDecoder (SotW requests, names reused when unchanged)', () => {
  const cases: Record<string, object> = {
    'first request with node': {
      node: { id: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local', cluster: 'a.ns', metadata: jsonToStruct({ NAMESPACE: 'ns', LABELS: { app: 'a' } }), userAgentName: 'envoy', userAgentVersion: '1.37.0', locality: { region: 'r', zone: 'z' } },
      typeUrl: TYPE_URL.cluster,
    },
    'EDS subscription by name': { typeUrl: TYPE_URL.endpoint, resourceNames: names },
    ACK: { typeUrl: TYPE_URL.endpoint, versionInfo: 'v1', responseNonce: 'n1', resourceNames: names.slice(0, 3) },
    NACK: { typeUrl: TYPE_URL.route, versionInfo: 'v1', responseNonce: 'n2', resourceNames: ['80'], errorDetail: { code: 3, message: 'bad route' } },
    'wildcard ACK': { typeUrl: TYPE_URL.listener, versionInfo: 'v2', responseNonce: 'n3' },
    'names with a locator (skipped field 7)': { typeUrl: TYPE_URL.endpoint, resourceNames: ['a', 'b'], resourceLocators: [{ name: 'c' }] },
  };
  for (const [what, msg] of Object.entries(cases)) {
    it(`decodes ${what} as protobufjs does`, () => {
      const wire = encode(msg);
      assert.deepEqual(new DiscoveryRequestDecoder(root).decode(wire), reference(wire));
    });
  }

  it('hands back the previous array while the names are the same bytes, a new one when they change', () => {
    const d = new DiscoveryRequestDecoder(root);
    const first = d.decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: names })).resourceNames!;
    const ack = d.decode(encode({ typeUrl: TYPE_URL.endpoint, versionInfo: 'v1', responseNonce: 'n1', resourceNames: names }));
    assert.equal(ack.resourceNames, first, 'same array');
    assert.equal(ack.responseNonce, 'n1');
    const other = d.decode(encode({ typeUrl: TYPE_URL.route, resourceNames: names }));
    assert.notEqual(other.resourceNames, first, 'names are remembered per type');
    const changed = d.decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: [...names.slice(1), 'new'] })).resourceNames!;
    assert.notEqual(changed, first);
    assert.deepEqual(changed, [...names.slice(1), 'new']);
    assert.deepEqual(d.decode(encode({ typeUrl: TYPE_URL.endpoint })).resourceNames, []);
    // Names split around another field are decoded (and not remembered).
    const split = Buffer.concat([encode({ resourceNames: ['a'] }), encode({ typeUrl: TYPE_URL.endpoint }), encode({ resourceNames: ['b'] })]);
    assert.deepEqual(d.decode(split).resourceNames, ['a', 'b']);
    assert.deepEqual(d.decode(split).resourceNames, ['a', 'b']);
  });

  it('reads an ACK repeating the last names of any type by one comparison, and still sees names added after them', () => {
    const d = new DiscoveryRequestDecoder(root);
    const eds = d.decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: names })).resourceNames!;
    const rds = d.decode(encode({ typeUrl: TYPE_URL.route, resourceNames: ['8080'] })).resourceNames!;
    // The request's memory is reused for the next one (transient gRPC messages): nothing may point into it.
    const wire = encode({ versionInfo: 'v1', typeUrl: TYPE_URL.endpoint, responseNonce: 'n1', resourceNames: names });
    const req = d.decode(wire);
    wire.fill(0);
    assert.equal(req.resourceNames, eds);
    assert.deepEqual({ ...req, resourceNames: undefined }, { versionInfo: 'v1', typeUrl: TYPE_URL.endpoint, responseNonce: 'n1', resourceNames: undefined });
    assert.equal(d.decode(encode({ typeUrl: TYPE_URL.route, responseNonce: 'n2', resourceNames: ['8080'] })).resourceNames, rds);
    // The last EDS names followed by one more: the longer run is decoded.
    const more = d.decode(encode({ typeUrl: TYPE_URL.endpoint, responseNonce: 'n3', resourceNames: [...names, 'extra'] })).resourceNames!;
    assert.deepEqual(more, [...names, 'extra']);
    // The last RDS names sent as an EDS subscription: RDS's bytes match, but they are not EDS's last names.
    const asEds = d.decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: ['8080'] })).resourceNames!;
    assert.deepEqual(asEds, ['8080']);
    assert.notEqual(asEds, rds);
    // The EDS names again (now the last EDS names are ['8080']), then split by another field.
    const split = Buffer.concat([encode({ resourceNames: ['8080'] }), encode({ typeUrl: TYPE_URL.endpoint }), encode({ resourceNames: ['b'] })]);
    assert.deepEqual(d.decode(split).resourceNames, ['8080', 'b']);
    // A NACK's error detail (with Any bytes) does not point into the request either.
    const nack = encode({ typeUrl: TYPE_URL.route, responseNonce: 'n4', resourceNames: ['8080'], errorDetail: { code: 3, message: 'bad', details: [{ typeUrl: 'x', value: Buffer.from('abc') }] } });
    const decoded = d.decode(nack);
    nack.fill(0);
    assert.deepEqual((decoded.errorDetail as { details: { value: Buffer }[] }).details[0]!.value, Buffer.from('abc'));
  });

  it('throws on malformed input, as protobufjs does', () => {
    const d = new DiscoveryRequestDecoder(root);
    const wire = encode({ typeUrl: TYPE_URL.endpoint, resourceNames: names.slice(0, 5) });
    assert.throws(() => d.decode(wire.subarray(0, wire.length - 3)));
    assert.throws(() => d.decode(Buffer.from([0x20, 0x01])), /wire type/);
    assert.throws(() => d.decode(Buffer.from([0x00])), /invalid tag/);
  });
});

describe('NameInterner', () => {
  it('returns one frozen sorted array per distinct set, forgetting the least recently used past its bound', () => {
    const i = new NameInterner(2);
    const a = i.intern(new Set(['b', 'a']));
    assert.deepEqual(a, ['a', 'b']);
    assert.ok(Object.isFrozen(a));
    assert.equal(i.intern(new Set(['a', 'b'])), a);
    const c = i.intern(new Set(['c']));
    i.intern(new Set(['a', 'b']));
    const d = i.intern(new Set(['d']));
    assert.equal(i.size, 2);
    assert.notEqual(i.intern(new Set(['c'])), c, 'c was the least recently used');
    assert.equal(i.intern(new Set(['d'])), d);
  });
});

describe('SubscriptionCache (names shared across streams)', () => {
  it('gives every stream that sends the same names the same frozen array, set and sorted list', () => {
    const shared = new SubscriptionCache(new NameInterner());
    const wire = encode({ typeUrl: TYPE_URL.endpoint, resourceNames: names });
    const a = new DiscoveryRequestDecoder(root, shared).decode(wire).resourceNames!;
    const b = new DiscoveryRequestDecoder(root, shared).decode(wire).resourceNames!;
    assert.equal(a, b, 'one array for two streams');
    assert.ok(Object.isFrozen(a));
    assert.deepEqual(a, names);
    const sa = shared.subscription(a);
    assert.equal(shared.subscription(b), sa);
    assert.equal(sa.star, false);
    assert.equal(sa.explicit.size, names.length);
    assert.deepEqual(sa.nameList, [...names].sort());
    // The same set in another order: another array, but the same interned sorted list.
    const reversed = new DiscoveryRequestDecoder(root, shared).decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: [...names].reverse() })).resourceNames!;
    assert.notEqual(reversed, a);
    assert.equal(shared.subscription(reversed).nameList, sa.nameList);
    // One copy of the names' bytes for every stream that sent them, not a view of the request.
    const bytes = Buffer.from('\x1a\x01a');
    const once = shared.namesOf(bytes, () => ['a']);
    const twice = shared.namesOf(Buffer.from(bytes), () => assert.fail('decoded again'));
    assert.equal(twice.raw, once.raw);
    bytes.fill(0);
    assert.deepEqual(once.raw, Buffer.from('\x1a\x01a'), 'a copy');
    assert.equal(twice.names, once.names);
    const star = shared.subscription(['*', 'x']);
    assert.equal(star.star, true);
    assert.deepEqual([...star.explicit], ['x']);
  });

  it('forgets the least recently used byte strings past its bound', () => {
    const shared = new SubscriptionCache(new NameInterner(), 1);
    const first = new DiscoveryRequestDecoder(root, shared).decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: ['a'] })).resourceNames!;
    new DiscoveryRequestDecoder(root, shared).decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: ['b'] }));
    const again = new DiscoveryRequestDecoder(root, shared).decode(encode({ typeUrl: TYPE_URL.endpoint, resourceNames: ['a'] })).resourceNames!;
    assert.notEqual(again, first);
    assert.deepEqual(again, ['a']);
  });
});
