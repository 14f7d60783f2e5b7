import type { JsonObject } from './envoy-extensions.ts';
import type { GeneratedResource } from './generator.ts';

/** Wrap resources as GeneratedResource, keeping only requested names when a subscription lists them. */
export function toResources(resources: readonly JsonObject[], names: readonly string[] | undefined): GeneratedResource[] {
  const wanted = names && names.length > 0 && !names.includes('*') ? new Set(names) : undefined;
  const out: GeneratedResource[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    const name = (r.name ?? r.clusterName) as string;
    if (seen.has(name) || (wanted && !wanted.has(name))) continue;
    seen.add(name);
    out.push({ name, resource: r });
  }
  return out;
}

/** Keep only the requested names (all when the request is wildcard). */
export function filterNames(resources: readonly GeneratedResource[], names: readonly string[] | undefined): GeneratedResource[] {
  if (!names || names.length === 0 || names.includes('*')) return [...resources];
  const wanted = new Set(names);
  return resources.filter((r) => wanted.has(r.name));
}
