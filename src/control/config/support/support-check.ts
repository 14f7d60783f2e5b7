import type { ConfigResource } from '../../../api/config-resource.ts';
import type { ValidationIssue } from '../validation/validation-issue.ts';
import { findFieldPaths } from './field-pattern.ts';
import { UNSUPPORTED_FEATURES, type UnsupportedFeature } from './unsupported-features.ts';

/** Findings of the support check: `refusals` must stop validate/apply; `warnings` are reported. */
export interface SupportFindings {
  refusals: ValidationIssue[];
  warnings: ValidationIssue[];
}

/**
 * The rows of UNSUPPORTED_FEATURES a resource uses, one issue per field path:
 * `spec.action: not supported by Mizzen: action CUSTOM ... (if it reaches a proxy anyway: ...)`.
 */
export function checkSupport(r: ConfigResource, table: readonly UnsupportedFeature[] = UNSUPPORTED_FEATURES): SupportFindings {
  const out: SupportFindings = { refusals: [], warnings: [] };
  for (const f of table) {
    // a row without a group is about Istio's kinds (the Gateway API has its own Gateway)
    if (f.kind !== r.kind || (f.group !== undefined ? r.group !== f.group : r.group === 'gateway.networking.k8s.io')) continue;
    const paths = f.fields.flatMap((p) => findFieldPaths(r.raw, p, f.when));
    for (const path of [...new Set(paths)]) {
      const message = `not supported by Mizzen: ${f.what} (if it reaches discovery anyway: ${f.ifServed})`;
      (f.level === 'refuse' ? out.refusals : out.warnings).push({ path, message });
    }
  }
  return out;
}
