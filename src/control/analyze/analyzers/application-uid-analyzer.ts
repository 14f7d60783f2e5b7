import type { Analyzer } from '../analyzer.ts';
import { podTemplate } from '../injection-status.ts';
import { num, obj, objs, str } from '../untyped-fields.ts';

const PROXY_UID = 1337;

/** Istio's applicationUID.Analyzer: application containers must not run as the proxy's UID 1337. */
export const applicationUidAnalyzer: Analyzer = {
  name: 'applicationUID.Analyzer',
  description: 'Checks invalid application UID',
  messages: ['InvalidApplicationUID'],
  analyze(ctx) {
    for (const kind of ['Pod', 'Deployment']) {
      for (const r of ctx.list(kind)) {
        const spec = podTemplate(r).spec;
        const podUid = num(obj(spec.securityContext).runAsUser);
        const containerUid = objs(spec.containers).some((c) => str(c.name) !== 'istio-proxy' && num(obj(c.securityContext).runAsUser) === PROXY_UID);
        if (podUid === PROXY_UID || containerUid) ctx.report(r, 'InvalidApplicationUID');
      }
    }
  },
};
