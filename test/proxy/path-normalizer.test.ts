import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalizePath, mergeSlashes, normalizeRequestPath, PATH_REJECTED, unescapeSlashes, type PathNormalization } from '../../src/data/l7/path-normalizer.ts';
import { pathNormalizationFields } from '../../src/control/generate/http-connection-manager.ts';

/** The HCM settings istiod generates for each meshConfig.pathNormalization mode (see the generator test below). */
const MODES: Record<string, PathNormalization> = {
  NONE: { normalize: false, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' },
  BASE: { normalize: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' },
  MERGE_SLASHES: { normalize: true, mergeSlashes: true, escapedSlashes: 'KEEP_UNCHANGED' },
  DECODE_AND_MERGE_SLASHES: { normalize: true, mergeSlashes: true, escapedSlashes: 'UNESCAPE_AND_FORWARD' },
};

/**
 * The path an upstream receives behind Envoy for each input, per mode: Istio's own table for
 * meshConfig.pathNormalization (its security/normalization integration test, run against Envoy),
 * plus Envoy's path utility cases; `400` = rejected.
 */
const TABLE: [input: string, NONE: string, BASE: string, MERGE_SLASHES: string, DECODE_AND_MERGE_SLASHES: string][] = [
  ['/', '/', '/', '/', '/'],
  ['/app#foo', '/app', '/app', '/app', '/app'],
  ['/app/', '/app/', '/app/', '/app/', '/app/'],
  ['/app/../admin', '/app/../admin', '/admin', '/admin', '/admin'],
  ['/app', '/app', '/app', '/app', '/app'],
  ['/app//', '/app//', '/app//', '/app/', '/app/'],
  ['/app/%2f', '/app/%2f', '/app/%2f', '/app/%2f', '/app/'],
  ['/app%2f/', '/app%2f/', '/app%2f/', '/app%2f/', '/app/'],
  ['/xyz%30..//abc', '/xyz%30..//abc', '/xyz0..//abc', '/xyz0../abc', '/xyz0../abc'],
  ['/app/%2E./admin', '/app/%2E./admin', '/admin', '/admin', '/admin'],
  ['/app\\admin', '/app\\admin', '/app/admin', '/app/admin', '/app/admin'],
  ['/app/\\/\\/\\admin', '/app/\\/\\/\\admin', '/app//////admin', '/app/admin', '/app/admin'],
  ['/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/app/admin/abc'],
  ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc', '/app/admin/abc'],
  ['/app//../admin', '/app//../admin', '/app/admin', '/app/admin', '/app/admin'],
  ['/app//../../admin', '/app//../../admin', '/admin', '/admin', '/admin'],
  ['/%c0%2e%c0%2e/admin', '/%c0%2e%c0%2e/admin', '/%c0.%c0./admin', '/%c0.%c0./admin', '/%c0.%c0./admin'],
  ['/%c0%2fadmin', '/%c0%2fadmin', '/%c0%2fadmin', '/%c0%2fadmin', '/%c0/admin'],
  // the issue's bypass attempts against a DENY on /admin, /admin/*
  ['/%61dmin', '/%61dmin', '/admin', '/admin', '/admin'],
  ['/./admin', '/./admin', '/admin', '/admin', '/admin'],
  ['/x/../admin', '/x/../admin', '/admin', '/admin', '/admin'],
  ['/ADMIN/%2e%2E/admin', '/ADMIN/%2e%2E/admin', '/admin', '/admin', '/admin'],
  ['//admin', '//admin', '//admin', '/admin', '/admin'],
  ['/admin%2Fx', '/admin%2Fx', '/admin%2Fx', '/admin%2Fx', '/admin/x'],
  ['/admin%5Cx', '/admin%5Cx', '/admin%5Cx', '/admin%5Cx', '/admin/x'],
  // mixed-case escapes: unreserved ones decoded, others kept exactly as written
  ['/%7e%7E/%41%62%2D%5f', '/%7e%7E/%41%62%2D%5f', '/~~/Ab-_', '/~~/Ab-_', '/~~/Ab-_'],
  ['/a%3a%3Ab%25%2525', '/a%3a%3Ab%25%2525', '/a%3a%3Ab%25%2525', '/a%3a%3Ab%25%2525', '/a%3a%3Ab%25%2525'],
  // `;` parameters are ordinary path characters: `..;` is not a dot segment
  ['/..;/admin', '/..;/admin', '/..;/admin', '/..;/admin', '/..;/admin'],
  ['/admin;a=b/../x', '/admin;a=b/../x', '/x', '/x', '/x'],
  ['/;/admin', '/;/admin', '/;/admin', '/;/admin', '/;/admin'],
  ['/.../admin', '/.../admin', '/.../admin', '/.../admin', '/.../admin'],
  // the query is never touched, the fragment always dropped
  ['/a/./b/../c?x=/../%2F&y=//#frag', '/a/./b/../c?x=/../%2F&y=//', '/a/c?x=/../%2F&y=//', '/a/c?x=/../%2F&y=//', '/a/c?x=/../%2F&y=//'],
  ['/a//b?', '/a//b?', '/a//b?', '/a/b?', '/a/b?'],
  ['/x?q#a?b', '/x?q', '/x?q', '/x?q', '/x?q'],
  // characters a path may not hold are escaped (upper-case hex); %00 is refused
  ['/a"b<c>d`e{f|g}h^i', '/a"b<c>d`e{f|g}h^i', '/a%22b%3Cc%3Ed%60e%7Bf%7Cg%7Dh%5Ei', '/a%22b%3Cc%3Ed%60e%7Bf%7Cg%7Dh%5Ei', '/a%22b%3Cc%3Ed%60e%7Bf%7Cg%7Dh%5Ei'],
  ['/admin%00', '/admin%00', '400', '400', '400'],
  ['/xyz/.%00../abc', '/xyz/.%00../abc', '400', '400', '400'],
  ['/xyz/AAAAA%%0000/abc', '/xyz/AAAAA%%0000/abc', '400', '400', '400'],
  // a `%` that starts no escape, followed by escapes that would form one once decoded
  ['/%%30%30', '/%%30%30', '/%2500', '/%2500', '/%2500'],
  ['/x/..', '/x/..', '/', '/', '/'],
  ['/x/.', '/x/.', '/x/', '/x/', '/x/'],
  ['/../a/b', '/../a/b', '/a/b', '/a/b', '/a/b'],
];

const MODE_NAMES = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;

describe('request path normalization (Envoy normalize_path / merge_slashes / path_with_escaped_slashes_action)', () => {
  for (const [i, mode] of MODE_NAMES.entries()) {
    it(`gives Istio's answers under ${mode}`, () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const row of TABLE) {
        const out = normalizeRequestPath(row[0], MODES[mode]);
        got.push(`${row[0]} -> ${out === PATH_REJECTED ? '400' : typeof out === 'string' ? out : 'redirect' in out ? `redirect ${out.redirect}` : '?'}`);
        want.push(`${row[0]} -> ${row[i + 1]}`);
      }
      assert.deepEqual(got, want);
    });
  }

  it('decodes exactly the unreserved characters %01..%FF (Istio: PercentEncoded under DECODE_AND_MERGE_SLASHES)', () => {
    for (let c = 1; c <= 0xff; c++) {
      const input = `/admin%${c.toString(16).padStart(2, '0')}`;
      const ch = String.fromCharCode(c);
      let want = input;
      if (/[A-Za-z0-9\-._~]/.test(ch)) want = `/admin${ch}`;
      if (ch === '/' || ch === '\\') want = '/admin/';
      assert.equal(normalizeRequestPath(input, MODES.DECODE_AND_MERGE_SLASHES), want, input);
    }
  });

  it('keeps a path that needs nothing as the same string (no work on the common path)', () => {
    const p = '/productpage?u=normal&x=1';
    assert.equal(normalizeRequestPath(p, MODES.BASE), p);
    assert.equal(normalizeRequestPath('/static/app.min.js', MODES.MERGE_SLASHES), '/static/app.min.js');
  });

  it('rejects or redirects requests with escaped slashes as the action says', () => {
    const reject: PathNormalization = { ...MODES.BASE, escapedSlashes: 'REJECT_REQUEST' };
    assert.equal(normalizeRequestPath('/a%2Fb', reject), PATH_REJECTED);
    assert.equal(normalizeRequestPath('/a%5cb?x=%2F', reject), PATH_REJECTED);
    assert.equal(normalizeRequestPath('/a/b?x=%2F', reject), '/a/b?x=%2F', 'only the path part counts');
    const redirect: PathNormalization = { ...MODES.MERGE_SLASHES, escapedSlashes: 'UNESCAPE_AND_REDIRECT' };
    assert.deepEqual(normalizeRequestPath('/a%2F%2Fb/../c?q=1', redirect), { redirect: '/a/c?q=1' });
    assert.equal(normalizeRequestPath('/a//b', redirect), '/a/b', 'no escaped slash: normalized and forwarded');
  });

  it("matches Envoy's path utility cases", () => {
    const cases: [string, string | undefined][] = [
      ['/a/b/../c', '/a/c'], ['/a/b/./c', '/a/b/c'], ['a/b/../c', '/a/c'], ['/a/b/../../../../c', '/c'], ['/a/..\\c', '/c'],
      ['/%c0%af', '/%c0%af'], ['/%5c%25', '/%5c%25'], ['/a/b/%2E%2E/c', '/a/c'], ['/a/b/%2E./c', '/a/c'], ['/a/b/%2E/c', '/a/b/c'],
      ['..', '/'], ['/../a/b', '/a/b'], ['/./a/b', '/a/b'], ['/A/B/C', '/A/B/C'], ['/a/b/%2e%2e/c', '/a/c'], ['/a/%2F%2f/c', '/a/%2F%2f/c'],
      ['/xyz/%00.%00./abc', undefined], ['', '/'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalizePath(input), want, input);
    const merges: [string, string][] = [
      ['', ''], ['a//b/c', 'a/b/c'], ['/a//b/c/', '/a/b/c/'], ['a//b/c/', 'a/b/c/'], ['/a', '/a'], ['//a/b/c', '/a/b/c'],
      ['/a/b/c//', '/a/b/c/'], ['/a///b/c', '/a/b/c'], ['/a////b/c', '/a/b/c'],
    ];
    for (const [input, want] of merges) assert.equal(mergeSlashes(input), want, input);
    assert.equal(unescapeSlashes('%2f%2F'), '//');
    assert.equal(unescapeSlashes('/a%2Fb%2fc/'), '/a/b/c/');
    assert.equal(unescapeSlashes('%2b'), '%2b');
    assert.equal(unescapeSlashes('/a%5Cb%5c'), '/a\\b\\');
  });
});

describe("istiod's HCM fields per meshConfig.pathNormalization mode", () => {
  it('maps each mode as istiod does (unset and DEFAULT mean BASE)', () => {
    assert.deepEqual(pathNormalizationFields(undefined), { normalizePath: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationFields('DEFAULT'), pathNormalizationFields('BASE'));
    assert.deepEqual(pathNormalizationFields('NONE'), { normalizePath: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationFields('MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationFields('DECODE_AND_MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' });
  });
});
