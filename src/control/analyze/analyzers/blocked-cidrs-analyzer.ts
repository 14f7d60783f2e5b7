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
    const istiods = ctx.list('Deployment').filter((d) => d.metadata.labels?.app === 'istiod');
    for (const d of istiods) {
      const configured = objs(podTemplate(d).spec.containers).some((c) => objs(c.env).some((e) => str(e.name) === ENV && str(e.value) !== ''));
      if (configured) continue;
      const all = ras.map((r) => fullName(r));
      const names = all.length <= 5 ? all.join(', ') : `${all.slice(0, 5).join(', ')}, and ${all.length - 5} more`;
      ctx.report(d, 'JwksUriFetchUnrestricted', ras.length, names);
    }
  },
};
