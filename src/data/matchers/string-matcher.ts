import { asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';

/** A compiled envoy.type.matcher.v3.StringMatcher. */
export type StringMatch = (value: string) => boolean;

/** Compile an RE2-style regex as a full match (Envoy's safe_regex semantics). */
export function compileRegex(regex: string, path: string, flags = ''): RegExp {
  try {
    return new RegExp(`^(?:${regex})$`, flags);
  } catch (err) {
    return reject(path, `invalid regex ${JSON.stringify(regex)}: ${(err as Error).message}`);
  }
}

export function compileStringMatcher(m: unknown, path: string): StringMatch {
  const o = asObj(m) as Obj;
  onlyFields(o, path, ['exact', 'prefix', 'suffix', 'contains', 'safeRegex', 'ignoreCase']);
  const ic = o.ignoreCase === true;
  const norm = (s: string): string => (ic ? s.toLowerCase() : s);
  if (typeof o.exact === 'string') {
    const want = norm(o.exact);
    return (v) => norm(v) === want;
  }
  if (typeof o.prefix === 'string') {
    const want = norm(o.prefix);
    return (v) => norm(v).startsWith(want);
  }
  if (typeof o.suffix === 'string') {
    const want = norm(o.suffix);
    return (v) => norm(v).endsWith(want);
  }
  if (typeof o.contains === 'string') {
    const want = norm(o.contains);
    return (v) => norm(v).includes(want);
  }
  if (o.safeRegex !== undefined) {
    const re = compileRegex(asString(asObj(o.safeRegex).regex), `${path}.safeRegex.regex`, ic ? 'i' : '');
    return (v) => re.test(v);
  }
  // proto3: exact "" is the unset default and means "matches the empty string".
  if (Object.keys(o).length === 0 || (Object.keys(o).length === 1 && ic)) return (v) => v === '';
  return reject(path, 'string matcher has no match_pattern');
}
