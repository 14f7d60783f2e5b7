import protobuf from 'protobufjs';

/** A wrapper holding its type's default decodes as `{}` (the value is not on the wire). */
const WRAPPER_DEFAULTS: Record<string, unknown> = {
  '.google.protobuf.DoubleValue': 0, '.google.protobuf.FloatValue': 0, '.google.protobuf.Int64Value': '0', '.google.protobuf.UInt64Value': '0',
  '.google.protobuf.Int32Value': 0, '.google.protobuf.UInt32Value': 0, '.google.protobuf.BoolValue': false, '.google.protobuf.StringValue': '', '.google.protobuf.BytesValue': '',
};
const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`));

/**
 * The reverse of protoJsonToObject: a protobufjs object (from `Type.toObject(..., {json: true})`)
 * → proto3 JSON as Envoy's admin `config_dump` prints it: durations as `"10s"`, wrappers as plain
 * values, Struct/Value/ListValue as plain JSON, `Any` as `{'@type', ...fields}` recursively.
 */
export function protoObjectToJson(type: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key];
    if (!field || value === undefined || value === null) {
      out[key] = value;
      continue;
    }
    field.resolve();
    if (field.map) {
      const m: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) m[k] = fieldValue(field, v);
      out[key] = m;
    } else if (field.repeated && Array.isArray(value)) out[key] = value.map((v) => fieldValue(field, v));
    else out[key] = fieldValue(field, value);
  }
  return out;
}

function fieldValue(field: protobuf.Field, value: unknown): unknown {
  const rt = field.resolvedType;
  return rt instanceof protobuf.Type ? typedValue(rt, value) : value;
}

function typedValue(rt: protobuf.Type, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  const name = rt.fullName;
  if (name === '.google.protobuf.Duration') return durationText(Number(v.seconds ?? 0), Number(v.nanos ?? 0));
  if (WRAPPERS.has(name)) return v.value ?? WRAPPER_DEFAULTS[name];
  if (name === '.google.protobuf.Struct') return structJson(v);
  if (name === '.google.protobuf.Value') return valueJson(v);
  if (name === '.google.protobuf.ListValue') return ((v.values as unknown[]) ?? []).map((x) => valueJson(x as Record<string, unknown>));
  if (name === '.google.protobuf.Any') {
    const typeUrl = v['@type'];
    if (typeof typeUrl !== 'string') return value;
    let inner: protobuf.Type | undefined;
    try {
      inner = rt.root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
    } catch {
      return value;
    }
    return { '@type': typeUrl, ...protoObjectToJson(inner, v) };
  }
  return protoObjectToJson(rt, v);
}

function structJson(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s.fields as Record<string, Record<string, unknown>>) ?? {})) out[k] = valueJson(v);
  return out;
}

function valueJson(v: Record<string, unknown>): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('structValue' in v) return structJson(v.structValue as Record<string, unknown>);
  if ('listValue' in v) return (((v.listValue as Record<string, unknown>).values as Record<string, unknown>[]) ?? []).map(valueJson);
  return null;
}

/** `{seconds: 1, nanos: 500000000}` → `"1.500s"` (proto3 JSON: 0, 3, 6 or 9 fraction digits). */
function durationText(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const frac = String(Math.abs(nanos)).padStart(9, '0').replace(/(\d{3})(\d{3})?(\d{3})?$/, (_m, a: string, b = '', c = '') => (c !== '000' ? a + b + c : b !== '000' ? a + b : a));
  return `${seconds < 0 || nanos < 0 ? '-' : ''}${Math.abs(seconds)}.${frac}s`;
}
