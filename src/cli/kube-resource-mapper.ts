// Types only: the client library loads when a command talks to the API server, not for file mode.
import type { KubeApi } from '../lib/kube/kube-api.ts';

/** Where a kind lives on the API server. */
export interface ResourceMapping {
  /** `/api/v1` or `/apis/GROUP/VERSION`. */
  base: string;
  /** The resource (lower-case plural): `deployments`, `virtualservices`. */
  plural: string;
  namespaced: boolean;
}

interface ApiResourceList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * kubectl's REST mapper: apiVersion + kind → the resource path, from the API server's discovery
 * documents (`/api/v1`, `/apis/GROUP/VERSION`), read once per group version. Kinds Mizzen does not
 * know itself (Secrets, StatefulSets, CRDs of others) are applied and deleted like any other.
 */
export class KubeResourceMapper {
  private readonly api: KubeApi;
  private readonly lists = new Map<string, Promise<ApiResourceList | undefined>>();

  constructor(api: KubeApi) {
    this.api = api;
  }

  static base(group: string, version: string): string {
    return group ? `/apis/${group}/${version}` : `/api/${version}`;
  }

  /** The mapping, or undefined when the API server serves no such kind in that version (CRD not installed). */
  async map(group: string, version: string, kind: string): Promise<ResourceMapping | undefined> {
    const base = KubeResourceMapper.base(group, version);
    let list = this.lists.get(base);
    if (!list) {
      list = this.api.request<ApiResourceList>('GET', base).catch((err: unknown) => {
        if ((err as { status?: number }).status === 404) return undefined;
        throw err;
      });
      this.lists.set(base, list);
    }
    const found = (await list)?.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
    return found ? { base, plural: found.name, namespaced: found.namespaced } : undefined;
  }
}

/** The path of a collection (namespace undefined: every namespace, or a cluster-scoped kind) or of one object. */
export function resourcePath(m: ResourceMapping, namespace: string | undefined, name?: string): string {
  const ns = m.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${m.base}${ns}/${m.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}
