import { asNumber, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields } from '../xds-client/resource-rejection.ts';
import { compileRegex, compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';

/** A compiled route HeaderMatcher: `value` is undefined when the header is absent. */
export interface HeaderMatch {
  name: string;
  test(value: string | undefined): boolean;
}

const HEADER_FIELDS = [
  'name', 'exactMatch', 'safeRegexMatch', 'rangeMatch', 'presentMatch', 'prefixMatch', 'suffixMatch',
  'containsMatch', 'stringMatch', 'invertMatch', 'treatMissingHeaderAsEmpty',
];

export function compileHeaderMatcher(m: unknown, path: string): HeaderMatch {
  const o = asObj(m) as Obj;
  onlyFields(o, path, HEADER_FIELDS);
  const name = asString(o.name).toLowerCase();
  const invert = o.invertMatch === true;
  const missingAsEmpty = o.treatMissingHeaderAsEmpty === true;
  let inner: (v: string) => boolean;
  let present = false;
  if (o.stringMatch !== undefined) inner = compileStringMatcher(o.stringMatch, `${path}.stringMatch`);
  else if (typeof o.exactMatch === 'string') { const w = o.exactMatch; inner = (v) => v === w; }
  else if (typeof o.prefixMatch === 'string') { const w = o.prefixMatch; inner = (v) => v.startsWith(w); }
  else if (typeof o.suffixMatch === 'string') { const w = o.suffixMatch; inner = (v) => v.endsWith(w); }
  else if (typeof o.containsMatch === 'string') { const w = o.containsMatch; inner = (v) => v.includes(w); }
  else if (o.safeRegexMatch !== undefined) {
    const re = compileRegex(asString(asObj(o.safeRegexMatch).regex), `${path}.safeRegexMatch.regex`);
    inner = (v) => re.test(v);
  } else if (o.rangeMatch !== undefined) {
    const r = asObj(o.rangeMatch);
    const start = asNumber(r.start);
    const end = asNumber(r.end);
    inner = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  } else if (o.presentMatch !== undefined) {
    present = true;
    const want = o.presentMatch === true;
    inner = () => want;
  } else {
    // No specifier: header must be present (Envoy's legacy default).
    present = true;
    inner = () => true;
  }
  return {
    name,
    test(value: string | undefined): boolean {
      if (value === undefined) {
        if (present) return invert ? inner('') : !inner('');
        if (!missingAsEmpty) return invert;
        value = '';
      }
      const r = inner(value);
      return invert ? !r : r;
    },
  };
}

/** A compiled QueryParameterMatcher. */
export interface QueryMatch {
  name: string;
  test(value: string | undefined): boolean;
}

export function compileQueryMatcher(m: unknown, path: string): QueryMatch {
  const o = asObj(m) as Obj;
  onlyFields(o, path, ['name', 'stringMatch', 'presentMatch']);
  const name = asString(o.name);
  if (o.stringMatch !== undefined) {
    const sm: StringMatch = compileStringMatcher(o.stringMatch, `${path}.stringMatch`);
    return { name, test: (v) => v !== undefined && sm(v) };
  }
  return { name, test: (v) => v !== undefined };
}
