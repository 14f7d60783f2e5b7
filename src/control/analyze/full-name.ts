import type { ConfigResource } from '../../api/config-resource.ts';

/** Istio's FullName text: `namespace/name`, or `name` when there is no namespace. */
export function fullName(r: Pick<ConfigResource, 'metadata'>): string {
  return r.metadata.namespace ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name;
}
