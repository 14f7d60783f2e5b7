import type { Analyzer } from '../analyzer.ts';
import { servicePortProtocol, UNSUPPORTED } from '../port-protocol.ts';
import { num, objs, str, type Obj } from '../untyped-fields.ts';

/** Services of gateways Istio deploys itself (not the user's to name). */
const MANAGED_GATEWAY_CONTROLLERS = new Set(['istio.io-gateway-controller', 'istio.io-mesh-controller', 'istio.io-eastwest-controller']);

/** Namespaces Istio never injects (and does not analyze port names in). */
const IGNORED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

/** Istio's service.PortNameAnalyzer: service ports should be named `<protocol>[-suffix]` or set appProtocol. */
export const portNameAnalyzer: Analyzer = {
  name: 'service.PortNameAnalyzer',
  description: 'Checks the port names associated with each service',
  messages: ['PortNameIsNotUnderNamingConvention', 'ExternalNameServiceTypeInvalidPortName'],
  analyze(ctx) {
    for (const svc of ctx.list('Service')) {
      if (IGNORED_NAMESPACES.has(svc.metadata.namespace ?? '')) continue;
      const labels = svc.metadata.labels ?? {};
      if (labels.istio !== undefined || labels.release === 'istio') continue;
      if (MANAGED_GATEWAY_CONTROLLERS.has(labels['gateway.istio.io/managed'] ?? '')) continue;
      const spec = svc.spec as Obj;
      const externalName = str(spec.type) === 'ExternalName';
      for (const p of objs(spec.ports)) {
        const name = str(p.name);
        const port = num(p.port) ?? 0;
        const unsupported = servicePortProtocol(port, name, str(p.protocol) || 'TCP', str(p.appProtocol)) === UNSUPPORTED;
        if (!unsupported && !(name === 'tcp' && externalName)) continue;
        if (externalName) ctx.report(svc, 'ExternalNameServiceTypeInvalidPortName');
        else ctx.report(svc, 'PortNameIsNotUnderNamingConvention', name, port, p.targetPort === undefined ? '0' : str(p.targetPort));
      }
    }
  },
};
