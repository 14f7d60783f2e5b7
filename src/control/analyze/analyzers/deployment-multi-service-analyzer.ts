import type { ConfigResource } from '../../../api/config-resource.ts';
import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { podTemplate, workloadInMesh } from '../injection-status.ts';
import { selectorMatches } from '../label-selector.ts';
import { servicePortProtocol } from '../port-protocol.ts';
import { num, objs, str, stringMap, type Obj } from '../untyped-fields.ts';


/**
 * Istio's deployment.MultiServiceAnalyzer (ServiceAssociationAnalyzer): services selecting a
 * mesh deployment must agree on each port's protocol, and must not map one target port to
 * different service ports.
 */
export const multiServiceAnalyzer: Analyzer = {
  name: 'deployment.MultiServiceAnalyzer',
  description: 'Checks association between services and pods',
  messages: ['DeploymentAssociatedToMultipleServices', 'DeploymentConflictingPorts'],
  analyze(ctx) {
    for (const d of ctx.list('Deployment')) {
      if (!workloadInMesh(ctx, d)) continue;
      const labels = podTemplate(d).labels;
      const services = ctx.list('Service').filter((s) => {
        const sel = stringMap((s.spec as Obj).selector);
        return Object.keys(sel).length > 0 && (s.metadata.namespace ?? '') === (d.metadata.namespace ?? '') && selectorMatches(sel, labels);
      });
      if (services.length === 0) continue;
      const protocols = new Map<number, Map<string, string[]>>();
      const targets = new Map<string, Map<number, string>>();
      for (const s of services) {
        for (const p of objs((s.spec as Obj).ports)) {
          const port = num(p.port) ?? 0;
          const target = p.targetPort === undefined || str(p.targetPort) === '0' || str(p.targetPort) === '' ? String(port) : str(p.targetPort);
          const byPort = targets.get(target) ?? new Map<number, string>();
          byPort.set(port, fullName(s));
          targets.set(target, byPort);
          if (str(p.protocol).toUpperCase() === 'UDP') continue;
          const proto = servicePortProtocol(port, str(p.name), str(p.protocol) || 'TCP', str(p.appProtocol));
          const m = protocols.get(port) ?? new Map<string, string[]>();
          m.set(proto, [...(m.get(proto) ?? []), fullName(s)]);
          protocols.set(port, m);
        }
      }
      for (const [port, m] of protocols) {
        if (m.size > 1) ctx.report(d, 'DeploymentAssociatedToMultipleServices', d.metadata.name, port, [...m.values()].flat().sort());
      }
      for (const [target, byPort] of targets) {
        if (byPort.size > 1) ctx.report(d, 'DeploymentConflictingPorts', d.metadata.name, [...byPort.values()].sort(), target, [...byPort.keys()]);
      }
    }
  },
};
