import type { Locality } from './service.ts';

export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';
/** Istio's older locality label: `region.zone.subzone`. */
export const LOCALITY_LABEL = 'istio-locality';
export const NETWORK_LABEL = 'topology.istio.io/network';

/** Does every key/value of the selector appear in the labels? Empty selectors match nothing here. */
export function selectorMatches(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels[k] === v);
}

/** `region/zone/subzone` (WorkloadEntry.locality) → Locality; empty parts omitted. */
export function parseLocality(text: string | undefined, separator = '/'): Locality | undefined {
  if (!text) return undefined;
  const [region, zone, subzone] = text.split(separator);
  const out: Locality = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subzone) out.subzone = subzone;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Locality of a workload from its labels: `istio-locality` (`region.zone.subzone`) wins, else the
 * topology labels (`topology.kubernetes.io/region|zone`, `topology.istio.io/subzone`) that a
 * Kubernetes node would carry; we read them from the workload itself, as there are no nodes here.
 */
export function localityFromLabels(labels: Readonly<Record<string, string>>): Locality | undefined {
  const legacy = parseLocality(labels[LOCALITY_LABEL], '.');
  if (legacy) return legacy;
  const out: Locality = {};
  if (labels[REGION_LABEL]) out.region = labels[REGION_LABEL];
  if (labels[ZONE_LABEL]) out.zone = labels[ZONE_LABEL];
  if (labels[SUBZONE_LABEL]) out.subzone = labels[SUBZONE_LABEL];
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Istio's rule for pods: `istio` when the pod carries `security.istio.io/tlsMode: istio`. */
export function tlsModeFromLabels(labels: Readonly<Record<string, string>>): 'istio' | 'disabled' {
  return labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled';
}

/**
 * Istio's rule for WorkloadEntries and ServiceEntry endpoints: the tlsMode label when present,
 * otherwise `istio` when a service account is given.
 */
export function workloadEntryTlsMode(labels: Readonly<Record<string, string>>, serviceAccount: string | undefined): 'istio' | 'disabled' {
  if (TLS_MODE_LABEL in labels) return labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled';
  return serviceAccount ? 'istio' : 'disabled';
}

/**
 * Resolve exportTo for a service: `.` becomes the owner namespace, `*` and names stay, `~`
 * (visible nowhere) stays as the only entry; empty or missing → the mesh default.
 */
export function resolveExportTo(exportTo: readonly string[] | undefined, namespace: string, meshDefault: readonly string[]): string[] {
  const list = exportTo && exportTo.length > 0 ? exportTo : meshDefault.length > 0 ? meshDefault : ['*'];
  if (list.includes('~')) return ['~'];
  if (list.includes('*')) return ['*'];
  return [...new Set(list.map((e) => (e === '.' ? namespace : e)))].sort();
}
