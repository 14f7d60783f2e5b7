/**
 * Kubernetes' strategic merge keys of a core/v1 Container's merged lists (`patchMergeKey` in the
 * API's types.go); every other list is replaced whole.
 */
const MERGE_KEYS: Readonly<Record<string, string>> = { env: 'name', ports: 'containerPort', volumeMounts: 'mountPath', volumeDevices: 'devicePath' };

/** Istio's placeholder image (`image: auto`): the injector fills in its own. */
export const AUTO_IMAGE = 'auto';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A strategic merge of maps: the overlay's fields win, nested maps merge, lists are replaced, `null` removes. */
function mergeMaps(base: Obj, overlay: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = mergeMaps(out[k], v);
    else if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A list merged by key: each overlay item replaces (env: value and valueFrom exclude each other)
 * or merges into the base item with the same key, in the base's place; the others are appended.
 */
function mergeList(field: string, key: string, base: readonly unknown[], overlay: readonly unknown[]): unknown[] {
  const out = [...base];
  for (const item of overlay) {
    const at = isObj(item) ? out.findIndex((b) => isObj(b) && b[key] === item[key]) : -1;
    if (at < 0) out.push(item);
    else out[at] = field === 'env' ? item : mergeMaps(out[at] as Obj, item as Obj);
  }
  return out;
}

/**
 * The container Istio's injector makes of its template's container and a container of the same
 * name in the user's pod (its `istio-proxy`, the gateway template's placeholder): the user's
 * fields applied over the template's as Kubernetes' strategic merge patch applies them (Istio's
 * `reapplyOverwrittenContainers`): env by name, ports by containerPort, volume mounts by
 * mountPath, maps (resources, securityContext, probes) field by field, anything else replaced;
 * `image: auto` leaves the template's image.
 */
export function overlayContainer<T extends object>(template: T, user: object): T {
  const out: Obj = { ...(template as Obj) };
  for (const [k, v] of Object.entries(user as Obj)) {
    if (k === 'image' && v === AUTO_IMAGE) continue;
    const key = MERGE_KEYS[k];
    if (v === null) delete out[k];
    else if (key && Array.isArray(v) && Array.isArray(out[k])) out[k] = mergeList(k, key, out[k] as unknown[], v);
    else if (isObj(v) && isObj(out[k])) out[k] = mergeMaps(out[k], v);
    else if (v !== undefined) out[k] = v;
  }
  return out as T;
}
