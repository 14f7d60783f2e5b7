import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { re2SyntaxError } from '../../src/control/config/validation/re2-syntax.ts';
import { closestName } from '../../src/control/config/schema/ajv-error-format.ts';

describe('re2SyntaxError (Go regexp/syntax errors)', () => {
  it("reports Go's code and the user's own text", () => {
    const cases: [string, string][] = [
      ['/reviews/([/', 'missing closing ]: `[/`'],
      ['(abc', 'missing closing ): `(abc`'],
      ['abc)', 'unexpected ): `abc)`'],
      ['*a', 'missing argument to repetition operator: `*`'],
      ['a**', 'invalid nested repetition operator: `**`'],
      ['a++', 'invalid nested repetition operator: `++`'],
      ['a{2}{3}', 'invalid nested repetition operator: `{2}{3}`'],
      ['\\q', 'invalid escape sequence: `\\q`'],
      ['a\\1', 'invalid escape sequence: `\\1`'],
      ['\\Z', 'invalid escape sequence: `\\Z`'],
      ['[z-a]', 'invalid character class range: `z-a`'],
      ['[[:foo:]]', 'invalid character class range: `[:foo:]`'],
      ['\\p{Foo}', 'invalid character class range: `\\p{Foo}`'],
      ['a{1001}', 'invalid repeat count: `{1001}`'],
      ['(?=x)', 'invalid or unsupported Perl syntax: `(?=`'],
      ['(?P<n>a)(?P<n>b)', 'duplicate capture group name: `n`'],
      ['foo\\', 'trailing backslash at end of expression: ``'],
    ];
    for (const [pattern, message] of cases) assert.equal(re2SyntaxError(pattern)?.message, `error parsing regexp: ${message}`, pattern);
  });

  it('accepts what RE2 accepts', () => {
    for (const p of ['^/api/v[0-9]+/.*$', '(?i)abc', '(?P<name>\\w+)', '(?<name>x)', '[[:alpha:]]+', '\\p{Greek}', 'x{,3}', 'a*?', '[]a]', '[^]a]', '[a-]', '\\.', '(?:a|b)*', '(?i-s:x)', '^*', '\\bfoo\\b', '[\\d-z]', '\\x41\\x{263a}', '\\Qa.b\\E', '']) {
      assert.equal(re2SyntaxError(p), undefined, p);
    }
  });
});

describe('closestName (did you mean)', () => {
  it('suggests a known field within two edits, never a distant one', () => {
    assert.equal(closestName('destinaton', ['destination', 'weight', 'headers']), 'destination');
    assert.equal(closestName('timout', ['timeout', 'retries']), 'timeout');
    assert.equal(closestName('hsots', ['hosts', 'gateways']), 'hosts');
    assert.equal(closestName('zzz', ['hosts', 'gateways']), undefined);
  });
});
