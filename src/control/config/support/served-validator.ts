import type { ConfigResource } from '../../../api/config-resource.ts';
import type { ValidationResult } from '../validation/validation-issue.ts';
import { checkSupport } from './support-check.ts';

/**
 * How discovery judges a resource: Istio's validation decides what is stored; what Mizzen does not
 * implement is reported as warnings (logged, in /debug/configz) and still stored, so a policy that
 * got past validate/apply is enforced failing closed by the generators instead of silently
 * vanishing (a dropped DENY or CUSTOM policy would allow everything it was meant to stop).
 */
export function servedValidator(validate: (r: ConfigResource) => ValidationResult): (r: ConfigResource) => ValidationResult {
  return (r) => {
    const v = validate(r);
    const s = checkSupport(r);
    if (s.refusals.length === 0 && s.warnings.length === 0) return v;
    return { errors: v.errors, warnings: [...v.warnings, ...s.refusals, ...s.warnings] };
  };
}

/** How validate and apply judge a resource: Istio's validation plus the refusals of the support table. */
export function submittedValidator(validate: (r: ConfigResource) => ValidationResult): (r: ConfigResource) => ValidationResult {
  return (r) => {
    const v = validate(r);
    const s = checkSupport(r);
    if (s.refusals.length === 0 && s.warnings.length === 0) return v;
    return { errors: [...v.errors, ...s.refusals], warnings: [...v.warnings, ...s.warnings] };
  };
}
