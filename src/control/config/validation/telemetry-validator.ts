import type { ConfigResource } from '../../../api/config-resource.ts';
import type { ProviderRef, TelemetrySpec } from '../../../api/istio/telemetry.ts';
import { CelSyntaxError, parseCel } from '../../../lib/cel/cel-parser.ts';
import { at, type IssueList } from './issue-list.ts';
import { validatePolicySelection } from './target-refs.ts';

function validateProviders(providers: ProviderRef[] | undefined, path: string, out: IssueList): void {
  if ((providers ?? []).some((p) => !p || !p.name)) out.error(path, 'providers.name may not be empty');
}

export function validateTelemetry(r: ConfigResource<TelemetrySpec>, out: IssueList): void {
  const spec = r.spec;
  validatePolicySelection(spec, 'spec', out);

  (spec.metrics ?? []).forEach((m, i) => {
    if (!m) return;
    const p = at('spec.metrics', i);
    validateProviders(m.providers, at(p, 'providers'), out);
    (m.overrides ?? []).forEach((o, j) => {
      const op = at(at(p, 'overrides'), j);
      if (!o) {
        out.error(op, 'tagOverrides may not be null');
        return;
      }
      for (const [name, to] of Object.entries(o.tagOverrides ?? {})) {
        const tp = at(op, `tagOverrides[${name}]`);
        if (name === '') out.warn(tp, 'tagOverrides.name may not be empty');
        if (!to) {
          out.error(tp, 'tagOverrides may not be null');
          continue;
        }
        const operation = to.operation ?? 'UPSERT';
        if (operation === 'UPSERT' && !to.value) out.error(tp, 'tagOverrides.value must be set when operation is UPSERT');
        if (operation === 'REMOVE' && to.value) out.error(tp, 'tagOverrides.value may only be set when operation is UPSERT');
      }
      if (o.match && o.match.customMetric !== undefined && o.match.customMetric === '') out.error(at(op, 'match.customMetric'), 'customMetric may not be empty');
    });
  });
  const tracing = spec.tracing ?? [];
  if (tracing.length > 1) out.warn('spec.tracing', 'multiple tracing is not currently supported');
  tracing.forEach((t, i) => {
    if (!t) return;
    const p = at('spec.tracing', i);
    if ((t.providers ?? []).length > 1) out.warn(at(p, 'providers'), 'multiple providers is not currently supported');
    validateProviders(t.providers, at(p, 'providers'), out);
    const pct = t.randomSamplingPercentage;
    if (pct !== undefined && (pct < 0 || pct > 100)) out.error(at(p, 'randomSamplingPercentage'), 'randomSamplingPercentage must be in range [0.0, 100.0]');
    for (const [name, tag] of Object.entries(t.customTags ?? {})) {
      const tp = at(p, `customTags[${name}]`);
      if (name === '') out.error(tp, 'tag name may not be empty');
      if (!tag) {
        out.error(tp, `tag '${name}' may not have a nil value`);
        continue;
      }
      if (tag.literal && !tag.literal.value) out.error(tp, 'literal tag value may not be empty');
      if (tag.header && !tag.header.name) out.error(tp, 'header tag name may not be empty');
      if (tag.environment && !tag.environment.name) out.error(tp, 'environment tag name may not be empty');
    }
  });
  (spec.accessLogging ?? []).forEach((l, i) => {
    if (!l) return;
    const p = at('spec.accessLogging', i);
    if (l.filter?.expression !== undefined) {
      try {
        parseCel(l.filter.expression);
      } catch (err) {
        if (!(err instanceof CelSyntaxError)) throw err;
        out.error(at(p, 'filter.expression'), `invalid filter expression: ${err.message}`);
      }
    }
    validateProviders(l.providers, at(p, 'providers'), out);
  });
}
