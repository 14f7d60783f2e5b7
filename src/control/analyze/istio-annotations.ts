/**
 * Istio's documented annotations (istio/api annotation/annotations.yaml, Apache-2.0): which
 * resource kinds each applies to, whether it is deprecated, and how its value is checked.
 * Only facts are carried here; the table is ours.
 */
export interface AnnotationInfo {
  name: string;
  /** Kinds the annotation belongs on; `Any` for all. */
  resources: readonly string[];
  deprecated?: string;
  validate?: (value: string) => string | undefined;
}

function uint32(v: string): string | undefined {
  return /^\d+$/.test(v.trim()) && Number(v) <= 0xffffffff ? undefined : `"${v}" is not a valid unsigned integer`;
}

function portNumber(v: string): string | undefined {
  const n = Number(v.trim());
  return /^\d+$/.test(v.trim()) && n >= 0 && n <= 65535 ? undefined : `"${v}" is not a valid port`;
}

function portList(v: string): string | undefined {
  for (const p of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const err = portNumber(p);
    if (err) return err;
  }
  return undefined;
}

function portListOrStar(v: string): string | undefined {
  return v.trim() === '*' ? undefined : portList(v);
}

function cidrListOrStar(v: string): string | undefined {
  if (v.trim() === '*') return undefined;
  for (const c of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(.+)\/(\d+)$/.exec(c);
    const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
    if (!m) return `"${c}" is not a valid CIDR`;
    const bits = Number(m[2]);
    if (ipv4.test(m[1]!) ? bits > 32 : !m[1]!.includes(':') || bits > 128) return `"${c}" is not a valid CIDR`;
  }
  return undefined;
}

function interceptionMode(v: string): string | undefined {
  return ['REDIRECT', 'TPROXY', 'NONE'].includes(v) ? undefined : `"${v}" is not a valid interception mode (REDIRECT, TPROXY, NONE)`;
}

function bool(v: string): string | undefined {
  return v === 'true' || v === 'false' ? undefined : `"${v}" is not a boolean`;
}

const POD = ['Pod'];
const ANY = ['Any'];

const TABLE: readonly AnnotationInfo[] = [
  { name: 'prometheus.istio.io/merge-metrics', resources: POD, validate: bool },
  { name: 'alpha.istio.io/kubernetes-serviceaccounts', resources: ['Service'], deprecated: '' },
  { name: 'alpha.istio.io/canonical-serviceaccounts', resources: ['Service'], deprecated: '' },
  { name: 'alpha.istio.io/identity', resources: POD, deprecated: '' },
  { name: 'networking.istio.io/exportTo', resources: ['Service'] },
  { name: 'networking.istio.io/traffic-distribution', resources: ['Service'] },
  { name: 'networking.istio.io/service-type', resources: ANY },
  { name: 'networking.istio.io/address-type', resources: ANY },
  { name: 'sidecar.istio.io/inject', resources: POD, deprecated: ' in favor of the sidecar.istio.io/inject label' },
  { name: 'sidecar.istio.io/status', resources: POD },
  { name: 'sidecar.istio.io/rewriteAppHTTPProbers', resources: POD, validate: bool },
  { name: 'sidecar.istio.io/controlPlaneAuthPolicy', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/discoveryAddress', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/proxyImage', resources: POD },
  { name: 'sidecar.istio.io/proxyImageType', resources: POD },
  { name: 'sidecar.istio.io/proxyCPU', resources: POD },
  { name: 'sidecar.istio.io/proxyCPULimit', resources: POD },
  { name: 'sidecar.istio.io/proxyMemory', resources: POD },
  { name: 'sidecar.istio.io/proxyMemoryLimit', resources: POD },
  { name: 'sidecar.istio.io/interceptionMode', resources: POD, validate: interceptionMode },
  { name: 'sidecar.istio.io/bootstrapOverride', resources: POD },
  { name: 'sidecar.istio.io/statsInclusionPrefixes', resources: POD, deprecated: ', use sidecar.istio.io/statsInclusionPrefixes in proxy.istio.io/config instead' },
  { name: 'sidecar.istio.io/statsInclusionSuffixes', resources: POD, deprecated: ', use proxy.istio.io/config instead' },
  { name: 'sidecar.istio.io/statsInclusionRegexps', resources: POD, deprecated: ', use proxy.istio.io/config instead' },
  { name: 'sidecar.istio.io/statsHistogramBuckets', resources: POD },
  { name: 'sidecar.istio.io/statsFlushInterval', resources: POD },
  { name: 'sidecar.istio.io/userVolume', resources: POD },
  { name: 'sidecar.istio.io/userVolumeMount', resources: POD },
  { name: 'sidecar.istio.io/enableCoreDump', resources: POD, validate: bool },
  { name: 'sidecar.istio.io/logLevel', resources: POD },
  { name: 'sidecar.istio.io/componentLogLevel', resources: POD },
  { name: 'sidecar.istio.io/agentLogLevel', resources: POD },
  { name: 'sidecar.istio.io/extraStatTags', resources: POD },
  { name: 'sidecar.istio.io/nativeSidecar', resources: POD, validate: bool },
  { name: 'status.sidecar.istio.io/port', resources: POD, validate: portNumber },
  { name: 'readiness.status.sidecar.istio.io/initialDelaySeconds', resources: POD, validate: uint32 },
  { name: 'readiness.status.sidecar.istio.io/periodSeconds', resources: POD, validate: uint32 },
  { name: 'readiness.status.sidecar.istio.io/failureThreshold', resources: POD, validate: uint32 },
  { name: 'readiness.status.sidecar.istio.io/applicationPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/includeOutboundIPRanges', resources: POD, validate: cidrListOrStar },
  { name: 'traffic.sidecar.istio.io/excludeOutboundIPRanges', resources: POD, validate: cidrListOrStar },
  { name: 'traffic.sidecar.istio.io/includeInboundPorts', resources: POD, validate: portListOrStar },
  { name: 'traffic.sidecar.istio.io/excludeInboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/includeOutboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/excludeOutboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/kubevirtInterfaces', resources: POD, deprecated: ', use istio.io/reroute-virtual-interfaces instead' },
  { name: 'istio.io/reroute-virtual-interfaces', resources: POD },
  { name: 'kubernetes.io/ingress.class', resources: ['Ingress'] },
  { name: 'install.operator.istio.io/chart-owner', resources: ANY },
  { name: 'install.operator.istio.io/owner-generation', resources: ANY },
  { name: 'install.operator.istio.io/version', resources: ANY },
  { name: 'galley.istio.io/analyze-suppress', resources: ANY },
  { name: 'proxy.istio.io/config', resources: POD },
  { name: 'proxy.istio.io/overrides', resources: POD },
  { name: 'istio.io/dry-run', resources: ['AuthorizationPolicy'] },
  { name: 'inject.istio.io/templates', resources: POD },
  { name: 'istio.io/autoRegistrationGroup', resources: ['WorkloadEntry'] },
  { name: 'istio.io/workloadController', resources: ['WorkloadEntry'] },
  { name: 'istio.io/connectedAt', resources: ['WorkloadEntry'] },
  { name: 'istio.io/disconnectedAt', resources: ['WorkloadEntry'] },
  { name: 'istio.io/rev', resources: ANY },
  { name: 'istio.io/use-waypoint', resources: ANY },
  { name: 'istio.io/dataplane-mode', resources: ANY },
  { name: 'ambient.istio.io/redirection', resources: POD },
  { name: 'ambient.istio.io/bypass-inbound-capture', resources: POD },
  { name: 'gateway.istio.io/controller-version', resources: ANY },
  { name: 'gateway.istio.io/service-account', resources: ANY },
  { name: 'gateway.istio.io/name-override', resources: ANY },
  { name: 'networking.istio.io/gatewayPort', resources: ANY },
  { name: 'topology.istio.io/controlPlaneClusters', resources: ANY },
  { name: 'istio.io/gateway-name', resources: ANY },
];

const BY_NAME: ReadonlyMap<string, AnnotationInfo> = new Map(TABLE.map((a) => [a.name, a]));

export function lookupAnnotation(name: string): AnnotationInfo | undefined {
  return BY_NAME.get(name);
}

/** Annotations the analyzers consider Istio's: documented ones and anything under an `istio.io/` domain. */
export function isIstioAnnotation(name: string): boolean {
  return BY_NAME.has(name) || name.includes('istio.io/');
}
