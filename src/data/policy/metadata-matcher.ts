import { asArray, asNumber, asObj, asString, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileStringMatcher } from '../matchers/string-matcher.ts';
import type { StreamInfo } from '../l7/stream-info.ts';

/** A compiled envoy.type.matcher.v3.ValueMatcher over a plain JSON value. */
export type ValueMatch = (v: unknown) => boolean;

/** A compiled envoy.type.matcher.v3.MetadataMatcher over a stream's dynamic metadata. */
export type MetadataMatch = (info: StreamInfo) => boolean;

/**
 * Dynamic metadata lives in `StreamInfo.filterState` under the writing filter's name (e.g.
 * `envoy.filters.http.jwt_authn` → `{ payload: {...claims} }`), as plain JSON objects.
 */
export function dynamicMetadata(info: StreamInfo, filter: string): unknown {
  return info.filterState.get(filter);
}

export function compileValueMatcher(m: unknown, path: string): ValueMatch {
  const o = asObj(m);
  onlyFields(o, path, ['nullMatch', 'doubleMatch', 'stringMatch', 'boolMatch', 'presentMatch', 'listMatch', 'orMatch']);
  if (o.stringMatch !== undefined) {
    const sm = compileStringMatcher(o.stringMatch, `${path}.stringMatch`);
    // a list value matches when one of its string elements does (lenient, as claims may be lists)
    return (v) => (typeof v === 'string' ? sm(v) : Array.isArray(v) ? v.some((e) => typeof e === 'string' && sm(e)) : false);
  }
  if (o.presentMatch !== undefined) {
    const want = o.presentMatch === true;
    return (v) => (v !== undefined && v !== null) === want;
  }
  if (o.nullMatch !== undefined) return (v) => v === null;
  if (o.boolMatch !== undefined) {
    const want = o.boolMatch === true;
    return (v) => v === want;
  }
  if (o.doubleMatch !== undefined) {
    const d = asObj(o.doubleMatch);
    onlyFields(d, `${path}.doubleMatch`, ['range', 'exact']);
    if (d.range !== undefined) {
      const r = asObj(d.range);
      const start = asNumber(r.start, -Infinity);
      const end = asNumber(r.end, Infinity);
      return (v) => typeof v === 'number' && v >= start && v < end;
    }
    const exact = asNumber(d.exact);
    return (v) => v === exact;
  }
  if (o.listMatch !== undefined) {
    const lm = asObj(o.listMatch);
    onlyFields(lm, `${path}.listMatch`, ['oneOf']);
    if (lm.oneOf === undefined) reject(`${path}.listMatch.oneOf`, 'list matcher needs one_of');
    const inner = compileValueMatcher(lm.oneOf, `${path}.listMatch.oneOf`);
    return (v) => Array.isArray(v) && v.some((e) => inner(e));
  }
  if (o.orMatch !== undefined) {
    const list = asArray(asObj(o.orMatch).valueMatchers).map((vm, i) => compileValueMatcher(vm, `${path}.orMatch.valueMatchers[${i}]`));
    return (v) => list.some((f) => f(v));
  }
  return reject(path, 'value matcher has no match_pattern');
}

export function compileMetadataMatcher(m: unknown, path: string): MetadataMatch {
  const o = asObj(m) as Obj;
  onlyFields(o, path, ['filter', 'path', 'value', 'invert']);
  const filter = asString(o.filter);
  if (!filter) reject(`${path}.filter`, 'metadata matcher needs a filter name');
  const keys = asArray(o.path).map((seg, i) => {
    onlyFields(seg, `${path}.path[${i}]`, ['key']);
    return asString(seg.key);
  });
  if (keys.length === 0) reject(`${path}.path`, 'metadata matcher needs a path');
  const value = compileValueMatcher(o.value, `${path}.value`);
  const invert = o.invert === true;
  return (info) => {
    let cur: unknown = dynamicMetadata(info, filter);
    for (const k of keys) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) {
        cur = undefined;
        break;
      }
      cur = (cur as Obj)[k];
    }
    return value(cur) !== invert;
  };
}
