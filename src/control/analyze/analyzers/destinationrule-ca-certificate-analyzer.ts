import type { Analyzer } from '../analyzer.ts';
import { num, obj, objs, str, type Obj } from '../untyped-fields.ts';

/** TLS settings that originate TLS without verifying the server (no caCertificates). */
function unverified(tls: Obj, hasWorkloadSelector: boolean): string | undefined {
  const mode = str(tls.mode);
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
  if (str(tls.caCertificates) !== '' || tls.insecureSkipVerify === true) return undefined;
  // A credentialName carries the CA too, but only gateways (selected workloads) read it.
  if (str(tls.credentialName) !== '' && hasWorkloadSelector) return undefined;
  return mode;
}

/** Istio's destinationrule.CaCertificateAnalyzer: TLS origination should verify the server. */
export const caCertificateAnalyzer: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: 'Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL',
  messages: ['NoServerCertificateVerificationDestinationLevel', 'NoServerCertificateVerificationPortLevel'],
  analyze(ctx) {
    for (const dr of ctx.list('DestinationRule')) {
      const spec = dr.spec as Obj;
      const ns = dr.metadata.namespace ?? '';
      const name = ns ? `${ns}/${dr.metadata.name}` : dr.metadata.name;
      const host = str(spec.host);
      const selected = spec.workloadSelector !== undefined && spec.workloadSelector !== null;
      const tp = obj(spec.trafficPolicy);
      const mode = unverified(obj(tp.tls), selected);
      if (mode) ctx.report(dr, 'NoServerCertificateVerificationDestinationLevel', name, ns, mode, host);
      for (const pls of objs(tp.portLevelSettings)) {
        const pm = unverified(obj(pls.tls), selected);
        if (pm) ctx.report(dr, 'NoServerCertificateVerificationPortLevel', name, ns, pm, host, String(num(obj(pls.port).number) ?? ''));
      }
    }
  },
};
