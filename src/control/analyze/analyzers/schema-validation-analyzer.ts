import type { ConfigResource } from '../../../api/config-resource.ts';
import { KINDS } from '../../../api/kinds.ts';
import { validateResource, type ValidationResult } from '../../config/validation/validate-resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import type { Analyzer } from '../analyzer.ts';

/** A rule or match name as the validator prints it: `"name"` or `#index`. */
const NAME = '("[^"]*"|#\\d+)';
const UNREACHABLE = new RegExp(`^virtualService rule ${NAME} not used \\((.*)\\)$`);
const INEFFECTIVE = new RegExp(`^virtualService rule ${NAME} match ${NAME}(?: of prefix \\S+)? is not used \\(duplicate/overlapping match in rule ${NAME}(?: of prefix \\S+ on ${NAME})?\\)$`);

function report(ctx: AnalysisContext, r: ConfigResource, result: ValidationResult): void {
  for (const e of result.errors) ctx.report(r, 'SchemaValidationError', e.path ? `${e.path}: ${e.message}` : e.message);
  for (const w of result.warnings) {
    const u = UNREACHABLE.exec(w.message);
    if (u) {
      ctx.report(r, 'VirtualServiceUnreachableRule', u[1], u[2]);
      continue;
    }
    const i = INEFFECTIVE.exec(w.message);
    if (i) {
      ctx.report(r, 'VirtualServiceIneffectiveMatch', i[1], i[2], i[4] ?? i[3]);
      continue;
    }
    ctx.report(r, 'SchemaWarning', w.path ? `${w.path}: ${w.message}` : w.message);
  }
}

/**
 * Istio's schema.ValidationAnalyzer.<Kind>: the validation Istio's admission webhook applies
 * (schema and semantics), reported as analyzer messages; unreachable and shadowed VirtualService
 * rules get their own codes.
 */
export function schemaValidationAnalyzers(): Analyzer[] {
  return KINDS.filter((k) => k.istio).map((k) => ({
    name: `schema.ValidationAnalyzer.${k.kind}`,
    description: `Runs schema validation as an analyzer on '${k.kind}' resources`,
    messages: ['SchemaValidationError', 'SchemaWarning', ...(k.kind === 'VirtualService' ? ['VirtualServiceUnreachableRule', 'VirtualServiceIneffectiveMatch'] : [])],
    analyze(ctx: AnalysisContext) {
      for (const r of ctx.list(k.kind, k.group)) report(ctx, r, validateResource(r));
    },
  }));
}
