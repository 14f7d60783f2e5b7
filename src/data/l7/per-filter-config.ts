import { asObj, type Obj } from '../xds-client/proto-values.ts';

/** typed_per_filter_config → filter name → config object. */
export function perFilterConfig(v: unknown): Map<string, Obj> {
  const m = new Map<string, Obj>();
  for (const [k, val] of Object.entries(asObj(v))) m.set(k, asObj(val));
  return m;
}
