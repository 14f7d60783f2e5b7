/**
 * Readers for protobuf well-known values as they appear in decoded Envoy objects: wrappers
 * (`{ value }`), Durations (`{ seconds, nanos }` or "1.5s"), Structs, percentages.
 */
export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asObj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function asArray(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as Obj[]) : [];
}

export function asString(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

export function asNumber(v: unknown, fallback = 0): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  return fallback;
}

/** google.protobuf.{U,}Int32Value / BoolValue: `{ value }`, absent → undefined. */
export function wrapped(v: unknown): number | undefined {
  if (!isObj(v)) return undefined;
  return asNumber(v.value, 0);
}

export function wrappedBool(v: unknown): boolean | undefined {
  if (!isObj(v)) return undefined;
  return v.value === true;
}

/** Duration to milliseconds; absent → undefined. */
export function durationMs(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Number(m[1]) * 1000 : undefined;
  }
  if (!isObj(v)) return undefined;
  return asNumber(v.seconds) * 1000 + asNumber(v.nanos) / 1e6;
}

/** envoy.type.v3.FractionalPercent → probability in [0,1]. */
export function fractionalPercent(v: unknown): number {
  const o = asObj(v);
  const n = asNumber(o.numerator);
  const d = asString(o.denominator, 'HUNDRED');
  const div = d === 'TEN_THOUSAND' ? 10_000 : d === 'MILLION' ? 1_000_000 : 100;
  return Math.min(1, n / div);
}

/** envoy.type.v3.Percent (`{ value: 0..100 }`) → probability. */
export function percent(v: unknown): number | undefined {
  if (!isObj(v)) return undefined;
  return Math.min(1, asNumber(v.value) / 100);
}

/** google.protobuf.Struct (decoded) → plain JSON value. */
export function structToJson(v: unknown): Obj {
  const out: Obj = {};
  for (const [k, val] of Object.entries(asObj(asObj(v).fields))) out[k] = valueToJson(val);
  return out;
}

function valueToJson(v: unknown): unknown {
  const o = asObj(v);
  if ('stringValue' in o) return o.stringValue;
  if ('numberValue' in o) return o.numberValue;
  if ('boolValue' in o) return o.boolValue;
  if ('structValue' in o) return structToJson(o.structValue);
  if ('listValue' in o) return asArray(asObj(o.listValue).values).map(valueToJson);
  if ('nullValue' in o) return null;
  // proto3 defaults omitted: "" / 0 / false
  return null;
}

/** Plain JSON → google.protobuf.Struct object for encoding. */
export function jsonToStruct(v: Obj): Obj {
  const fields: Obj = {};
  for (const [k, val] of Object.entries(v)) if (val !== undefined) fields[k] = jsonToValue(val);
  return { fields };
}

function jsonToValue(v: unknown): Obj {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Obj) };
}

/** Metadata `filter_metadata[ns]` as plain JSON. */
export function filterMetadata(metadata: unknown, ns: string): Obj {
  const fm = asObj(asObj(metadata).filterMetadata);
  return fm[ns] === undefined ? {} : structToJson(fm[ns]);
}
