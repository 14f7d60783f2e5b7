import type { Analyzer } from '../analyzer.ts';
import { str } from '../untyped-fields.ts';

/** Lowest Gateway API bundle version Istio processes, per CRD (Istio's gatewayapi.MinimumCRDVersions). */
const MINIMUM: Readonly<Record<string, [number, number, number]>> = {
  'grpcroutes.gateway.networking.k8s.io': [1, 1, 0],
  'backendtlspolicies.gateway.networking.k8s.io': [1, 4, 0],
  'tlsroutes.gateway.networking.k8s.io': [1, 5, 0],
};

function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function below(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! < min[i]!;
  return false;
}

/** Istio's k8sgateway.CRDVersionAnalyzer: installed Gateway API CRDs must be recent enough for Istio to watch them. */
export const gatewayApiCrdVersionAnalyzer: Analyzer = {
  name: 'k8sgateway.CRDVersionAnalyzer',
  description: 'Checks Gateway API CRDs are at the minimum version required by this Istio version',
  messages: ['GatewayAPICRDVersionBelowMinimum'],
  analyze(ctx) {
    for (const crd of ctx.list('CustomResourceDefinition')) {
      const min = MINIMUM[crd.metadata.name];
      if (!min) continue;
      const bundle = crd.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'];
      if (bundle === undefined) continue;
      const v = parseVersion(str(bundle));
      if (!v || !below(v, min)) continue;
      const installed = str(bundle).replace(/^v/, '');
      ctx.report(crd, 'GatewayAPICRDVersionBelowMinimum', crd.metadata.name, installed, min.join('.'));
    }
  },
};
