import type { ConfigResource } from '../../../api/config-resource.ts';
import type { DestinationRuleSpec } from '../../../api/istio/destination-rule.ts';
import { validateExportTo } from './export-to.ts';
import { isDNS1123Label, validateWildcardDomain } from './hosts.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateLabels, validateWorkloadSelector } from './labels.ts';
import { validateTrafficPolicy } from './traffic-policy.ts';

export function validateSubsetName(name: string | undefined): string | undefined {
  if (!name) return 'subset name cannot be empty';
  if (!isDNS1123Label(name)) return `subset name is invalid: ${name}`;
  return undefined;
}

export function validateDestinationRule(r: ConfigResource<DestinationRuleSpec>, out: IssueList): void {
  const spec = r.spec;
  const ns = r.metadata.namespace ?? '';
  out.check('spec.host', validateWildcardDomain(spec.host ?? ''));
  validateTrafficPolicy(ns, spec.trafficPolicy, 'spec.trafficPolicy', out);
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((s, i) => {
    const p = at('spec.subsets', i);
    if (!s) {
      out.error(p, 'subset may not be null');
      return;
    }
    if (s.name !== undefined && names.has(s.name)) out.error(at(p, 'name'), `duplicate subset names: ${s.name}`);
    if (s.name !== undefined) names.add(s.name);
    out.check(at(p, 'name'), validateSubsetName(s.name));
    validateLabels(s.labels, at(p, 'labels'), out);
    validateTrafficPolicy(ns, s.trafficPolicy, at(p, 'trafficPolicy'), out);
  });
  validateExportTo(ns, spec.exportTo, false, spec.workloadSelector !== undefined, 'spec.exportTo', out);
  validateWorkloadSelector(spec.workloadSelector, 'spec.workloadSelector', out);
}
