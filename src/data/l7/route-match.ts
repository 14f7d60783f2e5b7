import { asArray, asObj, asString, fractionalPercent, wrappedBool } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileRegex } from '../matchers/string-matcher.ts';
import { compileHeaderMatcher, compileQueryMatcher, type HeaderMatch, type QueryMatch } from './header-matcher.ts';
import type { HeaderList } from '../http1/header-list.ts';

/** What route matching looks at. */
export interface RouteRequest {
  method: string;
  /** request target: path plus query */
  path: string;
  authority: string;
  scheme: string;
  headers: HeaderList;
}

/** A compiled RouteMatch: the predicate plus what path rewriting needs to know about it. */
export interface RouteMatch {
  matches(req: RouteRequest): boolean;
  /** The literal prefix this route matched on (for prefix_rewrite). */
  matchPrefix: string | undefined;
  matchPathSeparated: boolean;
  matchRegex: RegExp | undefined;
}

const MATCH_FIELDS = ['prefix', 'path', 'safeRegex', 'pathSeparatedPrefix', 'caseSensitive', 'headers', 'queryParameters', 'grpc', 'runtimeFraction'];

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** Query string → first value per name (lazily, only when a route has query matchers). */
function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const pair of path.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    if (decodeURIComponentSafe(k) === name) return eq < 0 ? '' : decodeURIComponentSafe(pair.slice(eq + 1).replace(/\+/g, ' '));
  }
  return undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function headerValueFor(req: RouteRequest, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* : */) {
    switch (name) {
      case ':method': return req.method;
      case ':path': return req.path;
      case ':authority': return req.authority;
      case ':scheme': return req.scheme;
      default: return undefined;
    }
  }
  return req.headers.getAll(name);
}

/** Compile and validate one RouteMatch (throws ResourceRejection). */
export function compileRouteMatch(m: unknown, path: string): RouteMatch {
  const o = asObj(m);
  onlyFields(o, path, MATCH_FIELDS);
  const caseSensitive = wrappedBool(o.caseSensitive) ?? true;
  let pathTest: (p: string) => boolean;
  let matchPrefix: string | undefined;
  let matchPathSeparated = false;
  let matchRegex: RegExp | undefined;
  if (typeof o.prefix === 'string') {
    const pre = caseSensitive ? o.prefix : o.prefix.toLowerCase();
    matchPrefix = o.prefix;
    pathTest = caseSensitive ? (p) => p.startsWith(pre) : (p) => p.toLowerCase().startsWith(pre);
  } else if (typeof o.path === 'string') {
    const want = caseSensitive ? o.path : o.path.toLowerCase();
    pathTest = caseSensitive ? (p) => stripQuery(p) === want : (p) => stripQuery(p).toLowerCase() === want;
  } else if (o.safeRegex !== undefined) {
    const re = compileRegex(asString(asObj(o.safeRegex).regex), `${path}.safeRegex.regex`);
    matchRegex = re;
    pathTest = (p) => re.test(stripQuery(p));
  } else if (typeof o.pathSeparatedPrefix === 'string') {
    const pre = o.pathSeparatedPrefix;
    if (pre.endsWith('/') || pre.includes('?')) reject(`${path}.pathSeparatedPrefix`, 'must not end with "/" or contain "?"');
    matchPrefix = pre;
    matchPathSeparated = true;
    const cmp = caseSensitive ? pre : pre.toLowerCase();
    pathTest = (p) => {
      const s = caseSensitive ? stripQuery(p) : stripQuery(p).toLowerCase();
      return s === cmp || (s.startsWith(cmp) && s.charCodeAt(cmp.length) === 47);
    };
  } else {
    // proto3: prefix "" is the default when no path specifier is given.
    matchPrefix = '';
    pathTest = () => true;
  }
  const headers: HeaderMatch[] = asArray(o.headers).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`));
  const queries: QueryMatch[] = asArray(o.queryParameters).map((q, i) => compileQueryMatcher(q, `${path}.queryParameters[${i}]`));
  const grpc = o.grpc !== undefined;
  const fraction = o.runtimeFraction !== undefined ? fractionalPercent(asObj(o.runtimeFraction).defaultValue) : 1;
  const matches = (req: RouteRequest): boolean => {
    if (!pathTest(req.path)) return false;
    for (const h of headers) if (!h.test(headerValueFor(req, h.name))) return false;
    for (const q of queries) if (!q.test(queryValue(req.path, q.name))) return false;
    if (grpc && !(req.headers.get('content-type') ?? '').startsWith('application/grpc')) return false;
    if (fraction < 1 && Math.random() >= fraction) return false;
    return true;
  };
  return { matches, matchPrefix, matchPathSeparated, matchRegex };
}
