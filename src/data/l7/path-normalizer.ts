/**
 * Envoy's request path normalization (HttpConnectionManager `normalize_path`, `merge_slashes`,
 * `path_with_escaped_slashes_action`), applied before routing and filters as Envoy's
 * `ConnectionManagerUtility::maybeNormalizePath` does, in its order:
 *
 * 1. a `#fragment` is dropped (Istio's bootstrap turns Envoy's rejection of fragments into this);
 * 2. escaped slashes (`%2F`, `%5C`, either case) in the path part are unescaped when the action is
 *    not KEEP_UNCHANGED; REJECT_REQUEST then answers 400, UNESCAPE_AND_REDIRECT a 307 to the
 *    normalized path;
 * 3. `normalize_path`: RFC 3986 normalization of the path part as Envoy does it (Chromium's URL
 *    path canonicalizer): percent-encoded unreserved characters decoded (ALPHA, DIGIT, `-`, `_`,
 *    `~`; other escapes kept exactly as written, hex case included), `%2E` read as a dot, `.`
 *    and `..` segments removed, `\` turned into `/`, characters a path may not hold escaped
 *    (upper-case hex), `%00` rejected (400);
 * 4. `merge_slashes`: runs of `/` in the path part collapsed.
 *
 * The query is never touched. A path that contains none of the characters these steps act on is
 * returned as the same string (no allocation on the common path).
 */

export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

export interface PathNormalization {
  normalize: boolean;
  mergeSlashes: boolean;
  escapedSlashes: EscapedSlashesAction;
}

/** The request is refused (400 `path_normalization_failed`). */
export const PATH_REJECTED = Object.freeze({ reject: true as const });

/** Redirect (307) to `location`, the normalized path (UNESCAPE_AND_REDIRECT). */
export interface PathRedirect {
  readonly redirect: string;
}

/** A string: forward with this path (the same string when nothing changed). */
export type PathOutcome = string | typeof PATH_REJECTED | PathRedirect;

// Chromium's path character classes (url_canon_path.cc), as facts: how each byte is written.
const SPECIAL = 1; // handled case by case ('.', '\\', '%', and everything escaped or invalid)
const ESCAPE = 2 | SPECIAL; // must be percent-encoded in the output
const UNESCAPE = 4; // written as is; when found percent-encoded, decoded
const INVALID = 8 | SPECIAL; // NUL: escaped and the path refused

const CLASS = ((): Uint8Array => {
  const t = new Uint8Array(256).fill(ESCAPE); // controls, space and 0x7F-0xFF
  t[0] = INVALID;
  for (const c of "!$&'()*+,/:;=@[]") t[c.charCodeAt(0)] = 0;
  for (let c = 0x30; c <= 0x39; c++) t[c] = UNESCAPE;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = UNESCAPE;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = UNESCAPE;
  for (const c of '-_~') t[c.charCodeAt(0)] = UNESCAPE;
  t[0x2e] = SPECIAL; // '.'
  return t;
})();

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The byte `%XY` at `i` encodes, or -1 when `s[i..i+3)` is not a complete escape. */
function escapedByte(s: string, i: number, end: number): number {
  if (i + 3 > end) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

const isSlash = (c: number): boolean => c === 47 || c === 92;

/** Length of the dot at `i`: 1 for `.`, 3 for `%2e`/`%2E`, else 0. */
function dotLength(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === 46) return 1;
  if (c === 37 && i + 3 <= end && s.charCodeAt(i + 1) === 50 && (s.charCodeAt(i + 2) | 0x20) === 101) return 3;
  return 0;
}

function escapeChar(c: number): string {
  if (c < 256) return `%${HEX[c >> 4]}${HEX[c & 15]}`;
  let out = '';
  for (const b of Buffer.from(String.fromCharCode(c), 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

/**
 * After a decoded character landed within two characters of an earlier `%` that did not start a
 * valid escape, the output might now hold a new escape (`%%30%30` → `%00`); that `%` becomes
 * `%25` so the output means what the input meant.
 */
function guardNestedEscape(input: string, next: number, end: number, pct: number, out: string): string {
  if (out.charCodeAt(pct) !== 37) return out; // that '%' went with a `..` segment
  const last = out.charAt(out.length - 1);
  const appendNext = pct === out.length - 2;
  let probe = out;
  if (appendNext) {
    if (next === end || input.charCodeAt(next) >= 0x80) return out;
    probe = out + input.charAt(next);
  }
  if (escapedByte(probe, pct, probe.length) < 0) return out;
  // "%AB" → "%25AB"; "%A" (+ next input char, still to be read) → "%25A"
  return appendNext ? `${out.slice(0, pct)}%25${last}` : `${out.slice(0, pct)}%25${out.charAt(pct + 1)}${last}`;
}

/** Chromium's path canonicalization of `p` (no query), or undefined when the path is invalid. */
export function canonicalizePath(p: string): string | undefined {
  const end = p.length;
  if (end === 0) return '/';
  let out = isSlash(p.charCodeAt(0)) ? '' : '/';
  let lastInvalidPercent = -4;
  let ok = true;
  for (let i = 0; i < end; i++) {
    const c = p.charCodeAt(i);
    const cls = c < 256 ? CLASS[c] : ESCAPE;
    if ((cls & SPECIAL) === 0) {
      out += p.charAt(i);
      continue;
    }
    const dot = dotLength(p, i, end);
    if (dot > 0) {
      if (out.length > 0 && out.charCodeAt(out.length - 1) === 47) {
        // a dot right after a slash: `.` or `..` segment, or just a name starting with a dot
        const after = i + dot;
        if (after === end || isSlash(p.charCodeAt(after))) {
          i = after === end ? end : after; // "." (and its slash) skipped
          continue;
        }
        const dot2 = dotLength(p, after, end);
        const after2 = after + dot2;
        if (dot2 > 0 && (after2 === end || isSlash(p.charCodeAt(after2)))) {
          // "..": back up to the previous slash (never above the first)
          let j = out.length - 2;
          while (j > 0 && out.charCodeAt(j) !== 47) j--;
          out = out.slice(0, Math.max(j, 0) + 1);
          i = after2 === end ? end : after2;
          continue;
        }
      }
      out += '.';
      i += dot - 1;
    } else if (c === 92) {
      out += '/';
    } else if (c === 37) {
      const v = escapedByte(p, i, end);
      if (v < 0) {
        lastInvalidPercent = out.length;
        out += '%';
        continue;
      }
      const vcls = CLASS[v];
      if (vcls & UNESCAPE) {
        out += String.fromCharCode(v);
        i += 2;
        if (lastInvalidPercent >= out.length - 3) out = guardNestedEscape(p, i + 1, end, lastInvalidPercent, out);
      } else {
        // kept exactly as written (hex case included); %00 makes the path invalid
        out += p.slice(i, i + 3);
        i += 2;
        if (vcls === INVALID) ok = false;
      }
    } else {
      out += escapeChar(c);
      if (cls === INVALID) ok = false;
    }
  }
  return ok ? out : undefined;
}

/** Envoy's merge_slashes on a path part: runs of `/` become one; a leading and a trailing `/` stay. */
export function mergeSlashes(p: string): string {
  if (!p.includes('//')) return p;
  const inner = p.split('/').filter((s) => s !== '').join('/');
  return `${p.startsWith('/') ? '/' : ''}${inner}${p.endsWith('/') ? '/' : ''}`;
}

/** `%2F`/`%2f` → `/`, `%5C`/`%5c` → `\` in a path part. */
export function unescapeSlashes(p: string): string {
  return p.includes('%') ? p.replace(/%(?:2f|5c)/gi, (m) => (m.charAt(1) === '2' ? '/' : '\\')) : p;
}

/** Paths these patterns do not match are left as they are (by every step). */
const TOUCHED = /[#%\\"<>^`{|}\x00-\x20\x7f-\uffff]|\/\./;
const TOUCHED_MERGE = /[#%\\"<>^`{|}\x00-\x20\x7f-\uffff]|\/\.|\/\//;

/**
 * Normalize the `:path` of a request (path and query) as the HCM is configured. `path` must start
 * with `/` (Envoy answers 404 to other paths before normalizing).
 */
export function normalizeRequestPath(path: string, cfg: PathNormalization): PathOutcome {
  if (!(cfg.mergeSlashes ? TOUCHED_MERGE : TOUCHED).test(path)) return path;
  const hash = path.indexOf('#');
  let full = hash < 0 ? path : path.slice(0, hash);
  let redirect = false;
  const q0 = full.indexOf('?');
  let p = q0 < 0 ? full : full.slice(0, q0);
  const query = q0 < 0 ? '' : full.slice(q0);
  if (cfg.escapedSlashes !== 'KEEP_UNCHANGED') {
    const u = unescapeSlashes(p);
    if (u !== p) {
      if (cfg.escapedSlashes === 'REJECT_REQUEST') return PATH_REJECTED;
      if (cfg.escapedSlashes === 'UNESCAPE_AND_REDIRECT') redirect = true;
      p = u;
    }
  }
  if (cfg.normalize) {
    const n = canonicalizePath(p);
    if (n === undefined) return PATH_REJECTED;
    p = n;
  }
  if (cfg.mergeSlashes) p = mergeSlashes(p);
  full = p + query;
  return redirect ? { redirect: full } : full === path ? path : full;
}

/** Nothing but fragment stripping: Envoy's defaults (normalize_path and merge_slashes off). */
export const NO_NORMALIZATION: PathNormalization = Object.freeze({ normalize: false, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' });
