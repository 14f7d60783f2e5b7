import { isDeepStrictEqual } from 'node:util';

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

const escape = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * A JSON Patch (RFC 6902) turning `from` into `to`: objects are compared member by member (one
 * level per call into `metadata`, `spec`, maps), anything else that differs is replaced whole.
 * `add` on an existing member replaces it, so the patch applies whatever the member's state.
 */
export function createJsonPatch(from: unknown, to: unknown, path = '', depth = 3): JsonPatchOp[] {
  if (isDeepStrictEqual(from, to)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (depth === 0 || !isObj(from) || !isObj(to)) return [{ op: 'add', path, value: to }];
  const ops: JsonPatchOp[] = [];
  for (const k of Object.keys(from)) if (!(k in to)) ops.push({ op: 'remove', path: `${path}/${escape(k)}` });
  for (const [k, v] of Object.entries(to)) {
    if (!(k in from)) ops.push({ op: 'add', path: `${path}/${escape(k)}`, value: v });
    else ops.push(...createJsonPatch(from[k], v, `${path}/${escape(k)}`, depth - 1));
  }
  return ops;
}
