import type { PolicyTargetReference, WorkloadSelector } from '../../../api/istio/workload-selector.ts';
import { at, type IssueList } from './issue-list.ts';
import { validateWorkloadSelector } from './labels.ts';

/** `selector` / `targetRef` / `targetRefs` of policy kinds (AuthorizationPolicy, RequestAuthentication, Telemetry, ...). */
const ALLOWED = [
  { group: 'core', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
];

export function validateTargetRef(ref: PolicyTargetReference | undefined, path: string, out: IssueList): void {
  if (!ref) return;
  if (!ref.name) out.error(path, 'targetRef name must be set');
  if (ref.namespace) out.error(path, 'targetRef namespace must not be set; cross namespace referencing is not supported');
  const group = ref.group || 'core';
  if (!ALLOWED.some((a) => a.group === group && a.kind === ref.kind)) {
    out.error(path, `targetRef must be to one of [core/Service networking.istio.io/ServiceEntry gateway.networking.k8s.io/Gateway] but was ${ref.group ?? ''}/${ref.kind ?? ''}`);
  }
}

export function validatePolicySelection(spec: { selector?: WorkloadSelector; targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] }, path: string, out: IssueList): void {
  const set = (spec.selector ? 1 : 0) + (spec.targetRef ? 1 : 0) + ((spec.targetRefs?.length ?? 0) > 0 ? 1 : 0);
  if (set > 1) out.error(path, 'only one of targetRefs or workloadSelector can be set');
  validateWorkloadSelector(spec.selector, at(path, 'selector'), out);
  validateTargetRef(spec.targetRef, at(path, 'targetRef'), out);
  (spec.targetRefs ?? []).forEach((r, i) => validateTargetRef(r, at(at(path, 'targetRefs'), i), out));
}
