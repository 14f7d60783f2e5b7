import protobuf from 'protobufjs';

/**
 * Proto3 JSON (what generators write and `config_dump` shows: durations as `"10s"`, wrappers as
 * plain values, Struct as plain objects, `Any` as `{'@type', ...fields}`) → the object form
 * protobufjs `Type.fromObject` encodes (`{seconds, nanos}`, `{value}`, `{fields}`...). protobufjs
 * itself maps only `Any`. Keys the message does not have are reported, not silently dropped.
 */
export interface ProtoJsonResult {
  object: Record<string, unknown>;
  /** `path: name` of every key the message type does not declare (a generator bug). */
  unknownFields: string[];
}

const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`));

export function protoJsonToObject(type: protobuf.Type, json: Record<string, unknown>): ProtoJsonResult {
  const unknownFields: string[] = [];
  const object = convertMessage(type, json, '', unknownFields);
  return { object, unknownFields };
}

function convertMessage(type: protobuf.Type, json: Record<string, unknown>, path: string, unknown: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === '@type') {
      out[key] = value;
      continue;
    }
    const field = type.fields[key] ?? jsonNames(type).get(key);
    if (!field) {
      unknown.push(`${path || type.name}: ${key}`);
      continue;
    }
    field.resolve();
    const p = path ? `${path}.${key}` : key;
    if (value === undefined || value === null) continue;
    if (field.map) {
      const m: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) m[k] = convertValue(field, v, `${p}[${k}]`, unknown);
      out[field.name] = m;
    } else if (field.repeated && Array.isArray(value)) {
      out[field.name] = value.map((v, i) => convertValue(field, v, `${p}[${i}]`, unknown));
    } else {
      out[field.name] = convertValue(field, value, p, unknown);
    }
  }
  return out;
}

function convertValue(field: protobuf.Field, value: unknown, path: string, unknown: string[]): unknown {
  const rt = field.resolvedType;
  if (!(rt instanceof protobuf.Type)) return value;
  return convertTyped(rt, value, path, unknown);
}

function convertTyped(rt: protobuf.Type, value: unknown, path: string, unknown: string[]): unknown {
  const name = rt.fullName;
  if (name === '.google.protobuf.Duration') return typeof value === 'string' ? parseDuration(value) : value;
  if (WRAPPERS.has(name)) return typeof value === 'object' && value !== null ? value : { value };
  if (name === '.google.protobuf.Struct') return toStruct(value);
  if (name === '.google.protobuf.Value') return toValue(value);
  if (name === '.google.protobuf.ListValue') return Array.isArray(value) ? { values: value.map(toValue) } : value;
  if (name === '.google.protobuf.Any') {
    const v = value as Record<string, unknown>;
    const typeUrl = v['@type'];
    if (typeof typeUrl !== 'string') return value;
    const inner = lookup(rt, typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
    if (!inner) {
      unknown.push(`${path}: no type ${typeUrl}`);
      return value;
    }
    return { ...convertMessage(inner, v, `${path}<${inner.name}>`, unknown), '@type': typeUrl };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return convertMessage(rt, value as Record<string, unknown>, path, unknown);
}

function lookup(from: protobuf.Type, fullName: string): protobuf.Type | undefined {
  try {
    return from.root.lookupType(fullName);
  } catch {
    return undefined;
  }
}

const JSON_NAMES = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** Proto3 JSON names (`consecutive5xx`) for fields protobufjs names differently (`consecutive_5xx`). */
function jsonNames(type: protobuf.Type): Map<string, protobuf.Field> {
  let m = JSON_NAMES.get(type);
  if (!m) {
    m = new Map();
    for (const f of type.fieldsArray) m.set(f.name.replace(/_(.)/g, (_x, c: string) => c.toUpperCase()), f);
    JSON_NAMES.set(type, m);
  }
  return m;
}

/** `"1.5s"` → `{seconds: 1, nanos: 500000000}`. */
export function parseDuration(s: string): { seconds: number; nanos: number } {
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(s.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(s)} (want e.g. "1.5s")`);
  const sign = m[1] === '-' ? -1 : 1;
  return { seconds: sign * Number(m[2]), nanos: sign * Number((m[3] ?? '').padEnd(9, '0') || '0') };
}

function toStruct(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  if ('fields' in value && Object.keys(value).length === 1) return value;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): unknown {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}
