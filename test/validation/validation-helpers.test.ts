import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldPath } from '../../src/control/config/schema/ajv-error-format.ts';
import { parseDurationNanos, validateDuration } from '../../src/control/config/validation/duration.ts';
import { hostMatches, hostSubsetOf, validateNamespaceSlashWildcardHostname, validateWildcardDomain } from '../../src/control/config/validation/hosts.ts';
import { isValidCIDR, isValidIP } from '../../src/control/config/validation/ip-addresses.ts';
import { validateRegex } from '../../src/control/config/validation/regexes.ts';

describe('validation helpers', () => {
  it('parses Go-style durations', () => {
    assert.equal(parseDurationNanos('1h30m'), 5400e9);
    assert.equal(parseDurationNanos('1.5s'), 1.5e9);
    assert.equal(parseDurationNanos('250us'), 250e3);
    assert.equal(parseDurationNanos('10'), undefined);
    assert.equal(validateDuration('2s'), undefined);
    assert.match(String(validateDuration('0.5ms')), /greater than 1ms/);
    assert.match(String(validateDuration('1.0001s')), /ms precision/);
  });

  it('validates wildcard domains as Istio does', () => {
    for (const ok of ['*', '*.bar.com', '*foo', '*foo.bar.com', '*-foo.bar.com', 'x'.repeat(63), 'istio.io.']) assert.equal(validateWildcardDomain(ok), undefined, ok);
    for (const bad of ['', 'x'.repeat(256), 'foo.*.com', 'foo*.bar.com', '1.1.1.1']) assert.ok(validateWildcardDomain(bad), bad);
  });

  it('validates namespace/host entries for sidecars and gateways', () => {
    assert.deepEqual(validateNamespaceSlashWildcardHostname('~/*', false), []);
    assert.deepEqual(validateNamespaceSlashWildcardHostname('./foo.com', false), []);
    assert.ok(validateNamespaceSlashWildcardHostname('*', false).length > 0);
    assert.ok(validateNamespaceSlashWildcardHostname('~/foo.bar.com', true).some((e) => e.includes('invalid namespace value')));
    assert.deepEqual(validateNamespaceSlashWildcardHostname('1.1.1.1', true), []);
    assert.ok(validateNamespaceSlashWildcardHostname('foo', true).some((e) => e.includes('short names')));
  });

  it('knows when wildcard hosts overlap or contain each other', () => {
    assert.equal(hostMatches('*.foo.bar', '*.bar'), true);
    assert.equal(hostMatches('a.foo.com', '*.bar.com'), false);
    assert.equal(hostSubsetOf('a.foo.com', '*.foo.com'), true);
    assert.equal(hostSubsetOf('*.foo.com', 'a.foo.com'), false);
    assert.equal(hostSubsetOf('*.a.foo.com', '*.foo.com'), true);
  });

  it('parses IPs and CIDRs like Go netip', () => {
    assert.equal(isValidIP('10.0.0.1'), true);
    assert.equal(isValidIP('2001:db8::1'), true);
    assert.equal(isValidIP('010.0.0.1'), false);
    assert.equal(isValidIP('a.b.c.d'), false);
    assert.equal(isValidCIDR('5.6.0.0/16'), true);
    assert.equal(isValidCIDR('1.2.3.4/99'), false);
  });

  it('rejects regexes RE2 cannot compile', () => {
    assert.equal(validateRegex('^/service/([^/]+)(/.*)$', 'uri'), undefined);
    assert.ok(validateRegex('[', 'uri'));
    assert.ok(validateRegex('(?=lookahead)', 'uri'));
    assert.ok(validateRegex('x'.repeat(1025), 'uri'));
  });

  it('maps ajv instance paths to field paths with map keys in brackets', () => {
    assert.equal(fieldPath('/spec/http/0/route/1/weight', '#/properties/spec/properties/http/items/properties/route/items/properties/weight/minimum'), 'spec.http[0].route[1].weight');
    assert.equal(fieldPath('/spec/portLevelMtls/8080/mode', '#/properties/spec/properties/portLevelMtls/additionalProperties/properties/mode/enum'), 'spec.portLevelMtls[8080].mode');
    assert.equal(fieldPath('/spec/selector/matchLabels/app.kubernetes.io~1name', '#/properties/spec/properties/selector/properties/matchLabels/additionalProperties/type'), 'spec.selector.matchLabels[app.kubernetes.io/name]');
  });
});
