import type { Analyzer } from '../analyzer.ts';
import { fullName } from '../full-name.ts';
import { gatewaySelector } from '../gateway-workloads.ts';
import { selectorMatches } from '../label-selector.ts';
import { obj, objs, str, type Obj } from '../untyped-fields.ts';

function sameCertificate(a: Obj, b: Obj): boolean {
  if (str(a.mode) === 'PASSTHROUGH' || str(b.mode) === 'PASSTHROUGH') return false;
  if (str(a.credentialName) !== '' && str(a.credentialName) === str(b.credentialName)) return true;
  return str(a.serverCertificate) !== '' && str(a.serverCertificate) === str(b.serverCertificate) && str(a.privateKey) === str(b.privateKey);
}

/**
 * Istio's gateway.CertificateAnalyzer: two Gateways on the same workload should not use the same
 * certificate (clients reusing HTTP/2 connections get 404s).
 */
export const gatewayCertificateAnalyzer: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'Checks a gateway certificate',
  messages: ['GatewayDuplicateCertificate'],
  analyze(ctx) {
    const gateways = ctx.list('Gateway');
    for (const gw of gateways) {
      const selector = gatewaySelector(gw);
      const tls = objs((gw.spec as Obj).servers).filter((s) => s.tls !== undefined).map((s) => obj(s.tls));
      for (const other of gateways) {
        if (other === gw || !selectorMatches(selector, gatewaySelector(other))) continue;
        const otherTls = objs((other.spec as Obj).servers).filter((s) => s.tls !== undefined).map((s) => obj(s.tls));
        if (tls.some((a) => otherTls.some((b) => sameCertificate(a, b)))) {
          const name = (r: typeof gw): string => fullName(r);
          ctx.report(gw, 'GatewayDuplicateCertificate', [name(gw), name(other)]);
        }
      }
    }
  },
};
