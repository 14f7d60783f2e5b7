import type { Analyzer } from '../analyzer.ts';
import { servicePortProtocol, UNSUPPORTED } from '../port-protocol.ts';
import { num, objs, str, type Obj } from '../untyped-fields.ts';

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
      const spec = svc.spec as Obj;
      const ports = objs(spec.ports);
      if (str(spec.type) === 'ExternalName') {
        for (const p of ports) {
          const name = str(p.name);
          const proto = servicePortProtocol(num(p.port) ?? 0, name, str(p.protocol) || 'TCP', str(p.appProtocol));
          if (name === '' || proto === UNSUPPORTED || proto === 'TCP') ctx.report(svc, 'ExternalNameServiceTypeInvalidPortName');
        }
        continue;
      }
      for (const p of ports) {
        if (str(p.appProtocol) !== '') continue;
        const port = num(p.port) ?? 0;
        if (servicePortProtocol(port, str(p.name), str(p.protocol) || 'TCP') === UNSUPPORTED) {
          ctx.report(svc, 'PortNameIsNotUnderNamingConvention', str(p.name), port, p.targetPort === undefined ? '' : str(p.targetPort));
        }
      }
    }
  },
};
