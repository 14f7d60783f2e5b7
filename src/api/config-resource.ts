/**
 * One configuration object as read from YAML/JSON or the Kubernetes API: an Istio resource
 * (VirtualService, ...) or a Kubernetes one (Service, Deployment, ...). The shape is the same
 * for all kinds; `spec` is typed per kind by the interfaces under `api/istio/` and `api/kube/`.
 */
export interface ResourceOrigin {
  /** File the resource came from (as given on the command line or found in a watched dir). */
  file: string;
  /** 1-based line of the document's first line in that file. */
  line: number;
  /**
   * 1-based line of each field, by path (`spec.http[0].route[0].destination`; list items `[i]`,
   * object and map keys `.key`), when the parser was asked for them (validate, apply).
   */
  fieldLines?: Readonly<Record<string, number>>;
}

/**
 * The line of a field path (as validation reports it: map keys may be `[key]`), or of its
 * nearest ancestor that has one (a missing field is reported on its parent's line); else the
 * document's line.
 */
export function lineOfField(origin: ResourceOrigin | undefined, path: string): number | undefined {
  if (!origin) return undefined;
  const lines = origin.fieldLines;
  if (!lines) return origin.line;
  let p = path.replace(/\[([^\]]*[^\d\]][^\]]*)\]/g, '.$1').replace(/^\./, '');
  while (p) {
    const l = lines[p];
    if (l !== undefined) return l;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return origin.line;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  [field: string]: unknown;
}

export interface ConfigResource<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  /** API group ('' for the Kubernetes core group). */
  group: string;
  version: string;
  metadata: ObjectMeta;
  /**
   * The kind's payload: `spec` for Istio kinds and most Kubernetes kinds; for kinds without a
   * spec (ConfigMap `data`, Endpoints `subsets`, EndpointSlice `endpoints`/`ports`) the whole
   * object minus apiVersion/kind/metadata/status.
   */
  spec: Spec;
  /** The object exactly as parsed. */
  raw: Record<string, unknown>;
  origin?: ResourceOrigin;
}

/** `Kind namespace/name`, or `Kind name` when there is no namespace (Istio's analyzer format). */
export function resourceRef(r: Pick<ConfigResource, 'kind' | 'metadata'>): string {
  return r.metadata.namespace ? `${r.kind} ${r.metadata.namespace}/${r.metadata.name}` : `${r.kind} ${r.metadata.name}`;
}

/** Stable identity of a resource inside a store: `group/Kind/namespace/name`. */
export function resourceKey(r: Pick<ConfigResource, 'group' | 'kind' | 'metadata'>): string {
  return `${r.group}/${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}
