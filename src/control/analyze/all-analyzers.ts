import type { Analyzer } from './analyzer.ts';
import { conflictingMeshGatewayHostsAnalyzer } from './analyzers/virtualservice-conflicting-mesh-gateway-hosts-analyzer.ts';
import { virtualServiceDestinationHostAnalyzer } from './analyzers/virtualservice-destination-host-analyzer.ts';
import { virtualServiceDestinationRuleAnalyzer } from './analyzers/virtualservice-destination-rule-analyzer.ts';
import { virtualServiceGatewayAnalyzer } from './analyzers/virtualservice-gateway-analyzer.ts';
import { jwtClaimRouteAnalyzer } from './analyzers/virtualservice-jwt-claim-route-analyzer.ts';

/** Every analyzer `mizzen analyze` runs, in Istio's order of registration (by package). */
export function allAnalyzers(): Analyzer[] {
  return [
    conflictingMeshGatewayHostsAnalyzer,
    virtualServiceDestinationHostAnalyzer,
    virtualServiceDestinationRuleAnalyzer,
    virtualServiceGatewayAnalyzer,
    jwtClaimRouteAnalyzer,
  ];
}
