import type { Analyzer } from './analyzer.ts';
import { schemaValidationAnalyzers } from './analyzers/schema-validation-analyzer.ts';
import { alphaAnnotationsAnalyzer } from './analyzers/alpha-annotations-analyzer.ts';
import { annotationsAnalyzer } from './analyzers/annotations-analyzer.ts';
import { applicationUidAnalyzer } from './analyzers/application-uid-analyzer.ts';
import { authorizationPoliciesAnalyzer } from './analyzers/authorization-policies-analyzer.ts';
import { blockedCidrsAnalyzer } from './analyzers/blocked-cidrs-analyzer.ts';
import { conditionAnalyzer } from './analyzers/conditions-analyzer.ts';
import { multiServiceAnalyzer } from './analyzers/deployment-multi-service-analyzer.ts';
import { deprecationAnalyzer } from './analyzers/deprecation-analyzer.ts';
import { caCertificateAnalyzer } from './analyzers/destinationrule-ca-certificate-analyzer.ts';
import { subsetSelectPodAnalyzer } from './analyzers/destinationrule-subset-select-pod-analyzer.ts';
import { envoyFilterPatchAnalyzer } from './analyzers/envoyfilter-patch-analyzer.ts';
import { externalControlPlaneAnalyzer } from './analyzers/external-control-plane-analyzer.ts';
import { gatewayCertificateAnalyzer } from './analyzers/gateway-certificate-analyzer.ts';
import { conflictingGatewayAnalyzer } from './analyzers/gateway-conflicting-analyzer.ts';
import { ingressGatewayPortAnalyzer } from './analyzers/gateway-ingress-port-analyzer.ts';
import { gatewaySecretAnalyzer } from './analyzers/gateway-secret-analyzer.ts';
import { injectionAnalyzer } from './analyzers/injection-analyzer.ts';
import { injectionImageAnalyzer } from './analyzers/injection-image-analyzer.ts';
import { imageAutoAnalyzer } from './analyzers/injection-image-auto-analyzer.ts';
import { gatewayApiCrdVersionAnalyzer } from './analyzers/k8sgateway-crd-version-analyzer.ts';
import { k8sGatewaySelectorAnalyzer } from './analyzers/k8sgateway-selector-analyzer.ts';
import { meshNetworksAnalyzer } from './analyzers/mesh-networks-analyzer.ts';
import { multiClusterServiceAnalyzer } from './analyzers/multicluster-service-analyzer.ts';
import { portNameAnalyzer } from './analyzers/service-port-name-analyzer.ts';
import { conflictingServiceEntryProtocolAnalyzer } from './analyzers/serviceentry-conflicting-protocol-analyzer.ts';
import { serviceEntryAddressesAnalyzer } from './analyzers/serviceentry-protocol-addresses-analyzer.ts';
import { sidecarSelectorAnalyzer } from './analyzers/sidecar-selector-analyzer.ts';
import { telemetryProviderAnalyzer } from './analyzers/telemetry-provider-analyzer.ts';
import { telemetryLightstepAnalyzer } from './analyzers/telemetry-provider-analyzer.ts';
import { telemetrySelectorAnalyzer } from './analyzers/telemetry-selector-analyzer.ts';
import { telemetryDefaultSelectorAnalyzer } from './analyzers/telemetry-selector-analyzer.ts';
import { conflictingMeshGatewayHostsAnalyzer } from './analyzers/virtualservice-conflicting-mesh-gateway-hosts-analyzer.ts';
import { virtualServiceDestinationHostAnalyzer } from './analyzers/virtualservice-destination-host-analyzer.ts';
import { virtualServiceDestinationRuleAnalyzer } from './analyzers/virtualservice-destination-rule-analyzer.ts';
import { virtualServiceGatewayAnalyzer } from './analyzers/virtualservice-gateway-analyzer.ts';
import { jwtClaimRouteAnalyzer } from './analyzers/virtualservice-jwt-claim-route-analyzer.ts';
import { webhookAnalyzer } from './analyzers/webhook-analyzer.ts';

/**
 * Every analyzer `mizzen analyze` knows (one file per analyzer under analyzers/): Istio's
 * analyzers.All(), the multi-cluster ones, and optional ones (`optional: true`) run only by name.
 */
export function allAnalyzers(): Analyzer[] {
  return [
    alphaAnnotationsAnalyzer,
    annotationsAnalyzer,
    applicationUidAnalyzer,
    authorizationPoliciesAnalyzer,
    blockedCidrsAnalyzer,
    conditionAnalyzer,
    multiServiceAnalyzer,
    deprecationAnalyzer,
    caCertificateAnalyzer,
    subsetSelectPodAnalyzer,
    envoyFilterPatchAnalyzer,
    externalControlPlaneAnalyzer,
    gatewayCertificateAnalyzer,
    conflictingGatewayAnalyzer,
    ingressGatewayPortAnalyzer,
    gatewaySecretAnalyzer,
    injectionAnalyzer,
    injectionImageAnalyzer,
    imageAutoAnalyzer,
    gatewayApiCrdVersionAnalyzer,
    k8sGatewaySelectorAnalyzer,
    meshNetworksAnalyzer,
    multiClusterServiceAnalyzer,
    portNameAnalyzer,
    conflictingServiceEntryProtocolAnalyzer,
    serviceEntryAddressesAnalyzer,
    sidecarSelectorAnalyzer,
    telemetryProviderAnalyzer,
    telemetryLightstepAnalyzer,
    telemetrySelectorAnalyzer,
    telemetryDefaultSelectorAnalyzer,
    conflictingMeshGatewayHostsAnalyzer,
    virtualServiceDestinationHostAnalyzer,
    virtualServiceDestinationRuleAnalyzer,
    virtualServiceGatewayAnalyzer,
    jwtClaimRouteAnalyzer,
    webhookAnalyzer,
    ...schemaValidationAnalyzers(),
  ];
}
