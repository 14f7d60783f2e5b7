import { isIP } from 'node:net';
import type { Analyzer } from '../analyzer.ts';
import { obj, objs, str } from '../untyped-fields.ts';

/**
 * Istio's externalcontrolplane.ExternalControlPlaneAnalyzer: webhooks of an external control
 * plane reach istiod by URL, which must be set and should be a host name, not an IP address.
 * (Istio also resolves the host; Mizzen never looks names up from an analysis.)
 */
export const externalControlPlaneAnalyzer: Analyzer = {
  name: 'externalcontrolplane.ExternalControlPlaneAnalyzer',
  description: 'Checks that the remote IstioOperator resources reference an external control plane',
  messages: ['InvalidExternalControlPlaneConfig', 'ExternalControlPlaneAddressIsNotAHostname'],
  analyze(ctx) {
    const configs = [
      ...ctx.list('ValidatingWebhookConfiguration').filter((c) => c.metadata.name.startsWith('istio-validator')),
      ...ctx.list('MutatingWebhookConfiguration').filter((c) => c.metadata.name.startsWith('istio-sidecar-injector')),
    ];
    for (const cfg of configs) {
      for (const hook of objs(cfg.spec.webhooks)) {
        const cc = obj(hook.clientConfig);
        if (cc.service !== undefined && cc.service !== null) continue;
        if (!('url' in cc)) continue;
        const url = str(cc.url);
        const name = str(hook.name);
        if (url === '') {
          ctx.report(cfg, 'InvalidExternalControlPlaneConfig', url, name, 'is blank');
          continue;
        }
        let host: string;
        try {
          host = new URL(url).hostname.replace(/^\[|\]$/g, '');
        } catch {
          ctx.report(cfg, 'InvalidExternalControlPlaneConfig', url, name, 'is not a valid URL');
          continue;
        }
        if (isIP(host) !== 0) ctx.report(cfg, 'ExternalControlPlaneAddressIsNotAHostname', url, name);
      }
    }
  },
};
