import type { Analyzer } from '../analyzer.ts';
import { str } from '../untyped-fields.ts';

/** Lowest Gateway API bundle version Istio processes, per release channel. */
const MINIMUM: Readonly<Record<string, string>> = { standard: 'v1.4.0', experimental: 'v1.5.0' };

function parseVersion(v: string): number[] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function below(v: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! < min[i]!;
  return false;
}

/** Istio's k8sgateway.CRDVersionAnalyzer: installed Gateway API CRDs must be recent enough. */
export const gatewayApiCrdVersionAnalyzer: Analyzer = {
  name: 'k8sgateway.CRDVersionAnalyzer',
  description: 'Checks the Gateway API CRD bundle versions against the minimum Istio supports',
  messages: ['GatewayAPICRDVersionBelowMinimum'],
  analyze(ctx) {
    for (const crd of ctx.list('CustomResourceDefinition')) {
      if (!crd.metadata.name.endsWith('.gateway.networking.k8s.io')) continue;
      const annotations = crd.metadata.annotations ?? {};
      const version = str(annotations['gateway.networking.k8s.io/bundle-version']);
      const channel = str(annotations['gateway.networking.k8s.io/channel']) || 'standard';
      const min = MINIMUM[channel] ?? MINIMUM.standard!;
      const v = parseVersion(version);
      if (v && below(v, parseVersion(min)!)) ctx.report(crd, 'GatewayAPICRDVersionBelowMinimum', crd.metadata.name, version, min);
    }
  },
};
