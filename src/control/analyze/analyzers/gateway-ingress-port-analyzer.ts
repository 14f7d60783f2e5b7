import type { Analyzer } from '../analyzer.ts';
import { gatewayPods, gatewaySelector } from '../gateway-workloads.ts';
import { selectorMatches, selectorString } from '../label-selector.ts';
import { num, obj, objs, stringMap, str, type Obj } from '../untyped-fields.ts';

/**
 * Istio's gateway.IngressGatewayPortAnalyzer: a Gateway must select some workload, and each
 * server port must be a port (or target port) of a Service in front of that workload.
 */
export const ingressGatewayPortAnalyzer: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: "Checks a gateway's ports against the gateway's Kubernetes service ports",
  messages: ['ReferencedResourceNotFound', 'GatewayPortNotDefinedOnService'],
  analyze(ctx) {
    for (const gw of ctx.list('Gateway')) {
      const selector = gatewaySelector(gw);
      const pods = gatewayPods(ctx, gw);
      if (pods.length === 0) {
        ctx.report(gw, 'ReferencedResourceNotFound', 'selector', selectorString(selector));
        continue;
      }
      const ports = new Set<number>();
      for (const pod of pods) {
        for (const svc of ctx.list('Service')) {
          if ((svc.metadata.namespace ?? '') !== (pod.metadata.namespace ?? '')) continue;
          const spec = svc.spec as Obj;
          if (!selectorMatches(stringMap(spec.selector), pod.metadata.labels)) continue;
          for (const p of objs(spec.ports)) {
            const protocol = str(p.protocol) || 'TCP';
            if (protocol !== 'TCP') continue;
            const port = num(p.port);
            if (port !== undefined) ports.add(port);
            const target = num(p.targetPort);
            if (target !== undefined) ports.add(target);
          }
        }
      }
      for (const server of objs((gw.spec as Obj).servers)) {
        if (server.port === undefined) continue;
        const n = num(obj(server.port).number) ?? 0;
        if (!ports.has(n)) ctx.report(gw, 'GatewayPortNotDefinedOnService', n, selectorString(selector));
      }
    }
  },
};
