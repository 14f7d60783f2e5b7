import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { objs, str } from '../untyped-fields.ts';
import { podTemplate } from '../injection-status.ts';

const ENV = 'BLOCKED_CIDRS_IN_JWKS_URIS';

/**
 * Istio's authn.BlockedCIDRsAnalyzer: with RequestAuthentications present, istiod fetches JWKS
 * from user-given URIs; BLOCKED_CIDRS_IN_JWKS_URIS should restrict where it may connect.
 */
export const blockedCidrsAnalyzer: Analyzer = {
  name: 'authn.BlockedCIDRsAnalyzer',
  description: 'Checks that BLOCKED_CIDRS_IN_JWKS_URIS is configured when RequestAuthentications exist',
  messages: ['JwksUriFetchUnrestricted'],
  analyze(ctx) {
    const ras = ctx.list('RequestAuthentication');
    if (ras.length === 0) return;
    const istiods = ctx.list('Deployment').filter((d) => (d.metadata.namespace ?? '') === ctx.istioNamespace && (podTemplate(d).labels.app === 'istiod' || d.metadata.name.startsWith('istiod')));
    for (const d of istiods) {
      const configured = objs(podTemplate(d).spec.containers).some((c) => objs(c.env).some((e) => str(e.name) === ENV && str(e.value) !== ''));
      if (configured) continue;
      const names = ras.map((r) => fullName(r)).join(', ');
      ctx.report(d, 'JwksUriFetchUnrestricted', ras.length, names);
    }
  },
};
