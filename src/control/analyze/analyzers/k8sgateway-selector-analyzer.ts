import type { Analyzer } from '../analyzer.ts';
import { selectorMatches } from '../label-selector.ts';
import { obj, stringMap, type Obj } from '../untyped-fields.ts';

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/**
 * Istio's k8sgateway.SelectorAnalyzer: policies selecting the pods of a Kubernetes Gateway by
 * label have no effect there; they must use targetRef.
 */
export const k8sGatewaySelectorAnalyzer: Analyzer = {
  name: 'k8sgateway.SelectorAnalyzer',
  description: 'Check if a policy selects a Kubernetes Gateway pod through a label selector',
  messages: ['IneffectiveSelector'],
  analyze(ctx) {
    const gatewayPods = ctx.list('Pod').filter((p) => p.metadata.labels?.[GATEWAY_NAME_LABEL] !== undefined);
    if (gatewayPods.length === 0) return;
    for (const kind of ['RequestAuthentication', 'AuthorizationPolicy', 'WasmPlugin', 'Telemetry']) {
      for (const r of ctx.list(kind)) {
        const spec = r.spec as Obj;
        if (spec.targetRef !== undefined || spec.targetRefs !== undefined) continue;
        const selector = stringMap(obj(spec.selector).matchLabels);
        if (Object.keys(selector).length === 0) continue;
        const pod = gatewayPods.find((p) => (p.metadata.namespace ?? '') === (r.metadata.namespace ?? '') && selectorMatches(selector, p.metadata.labels));
        if (pod) ctx.report(r, 'IneffectiveSelector', pod.metadata.labels![GATEWAY_NAME_LABEL]);
      }
    }
  },
};
