import { parse } from 'yaml';

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
  /** Feature maturity; Alpha unless stated. */
  status?: 'Beta' | 'Stable';
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
  return v.trim() === '*' ? undefined : cidrList(v);
}

function cidrList(v: string): string | undefined {
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
const SVC = ['Service'];
const WE = ['WorkloadEntry'];
const GW = ['Gateway'];

function proxyConfigYaml(v: string): string | undefined {
  try {
    const parsed: unknown = parse(v);
    return parsed === null || parsed === undefined || (typeof parsed === 'object' && !Array.isArray(parsed)) ? undefined : 'proxy config must be a YAML object';
  } catch (err) {
    return `failed to parse proxy config: ${(err as Error).message}`;
  }
}

const TABLE: readonly AnnotationInfo[] = [
  { name: 'alpha.istio.io/canonical-serviceaccounts', resources: SVC, deprecated: '' },
  { name: 'alpha.istio.io/kubernetes-serviceaccounts', resources: SVC, deprecated: '' },
  { name: 'ambient.istio.io/bypass-inbound-capture', resources: POD },
  { name: 'ambient.istio.io/redirection', resources: POD, status: 'Beta' },
  { name: 'ambient.istio.io/waypoint-inbound-binding', resources: ['GatewayClass', 'Gateway'] },
  { name: 'galley.istio.io/analyze-suppress', resources: ANY },
  { name: 'gateway.istio.io/controller-version', resources: ANY },
  { name: 'gateway.istio.io/name-override', resources: GW },
  { name: 'gateway.istio.io/service-account', resources: GW },
  { name: 'inject.istio.io/templates', resources: POD },
  { name: 'istio.io/autoRegistrationGroup', resources: WE },
  { name: 'istio.io/connectedAt', resources: WE },
  { name: 'istio.io/disconnectedAt', resources: WE },
  { name: 'istio.io/dry-run', resources: ['AuthorizationPolicy'] },
  { name: 'istio.io/rev', resources: POD },
  { name: 'istio.io/workloadController', resources: WE },
  { name: 'kubernetes.io/ingress.class', resources: ['Ingress'], status: 'Stable' },
  { name: 'networking.istio.io/exportTo', resources: SVC },
  { name: 'networking.istio.io/service-type', resources: GW },
  { name: 'networking.istio.io/traffic-distribution', resources: ['Service', 'ServiceEntry'] },
  { name: 'prometheus.istio.io/merge-metrics', resources: POD, validate: bool },
  { name: 'proxy.istio.io/config', resources: POD, validate: proxyConfigYaml, status: 'Beta' },
  { name: 'proxy.istio.io/overrides', resources: POD },
  { name: 'readiness.status.sidecar.istio.io/applicationPorts', resources: POD },
  { name: 'readiness.status.sidecar.istio.io/failureThreshold', resources: POD, validate: uint32 },
  { name: 'readiness.status.sidecar.istio.io/initialDelaySeconds', resources: POD, validate: uint32 },
  { name: 'readiness.status.sidecar.istio.io/periodSeconds', resources: POD, validate: uint32 },
  { name: 'sidecar.istio.io/agentLogLevel', resources: POD },
  { name: 'sidecar.istio.io/bootstrapOverride', resources: POD },
  { name: 'sidecar.istio.io/componentLogLevel', resources: POD },
  { name: 'sidecar.istio.io/discoveryAddress', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/enableCoreDump', resources: POD, validate: bool },
  { name: 'sidecar.istio.io/extraStatTags', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/inject', resources: POD, deprecated: ' in favor of the "sidecar.istio.io/inject" label', status: 'Beta' },
  { name: 'sidecar.istio.io/interceptionMode', resources: POD, validate: interceptionMode },
  { name: 'sidecar.istio.io/logLevel', resources: POD },
  { name: 'sidecar.istio.io/nativeSidecar', resources: POD },
  { name: 'sidecar.istio.io/proxyCPU', resources: POD },
  { name: 'sidecar.istio.io/proxyCPULimit', resources: POD },
  { name: 'sidecar.istio.io/proxyImage', resources: POD },
  { name: 'sidecar.istio.io/proxyImageType', resources: POD },
  { name: 'sidecar.istio.io/proxyMemory', resources: POD },
  { name: 'sidecar.istio.io/proxyMemoryLimit', resources: POD },
  { name: 'sidecar.istio.io/rewriteAppHTTPProbers', resources: POD },
  { name: 'sidecar.istio.io/statsHistogramBuckets', resources: POD },
  { name: 'sidecar.istio.io/statsInclusionPrefixes', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/statsInclusionRegexps', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/statsInclusionSuffixes', resources: POD, deprecated: '' },
  { name: 'sidecar.istio.io/status', resources: POD },
  { name: 'sidecar.istio.io/userVolume', resources: POD },
  { name: 'sidecar.istio.io/userVolumeMount', resources: POD },
  { name: 'status.sidecar.istio.io/port', resources: POD, validate: portNumber },
  { name: 'topology.istio.io/controlPlaneClusters', resources: ['Namespace'] },
  { name: 'traffic.istio.io/nodeSelector', resources: SVC, status: 'Stable' },
  { name: 'traffic.sidecar.istio.io/excludeInboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/excludeInterfaces', resources: POD },
  { name: 'traffic.sidecar.istio.io/excludeOutboundIPRanges', resources: POD, validate: cidrList },
  { name: 'traffic.sidecar.istio.io/excludeOutboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/includeInboundPorts', resources: POD, validate: portListOrStar },
  { name: 'traffic.sidecar.istio.io/includeOutboundIPRanges', resources: POD, validate: cidrListOrStar },
  { name: 'traffic.sidecar.istio.io/includeOutboundPorts', resources: POD, validate: portList },
  { name: 'traffic.sidecar.istio.io/kubevirtInterfaces', resources: POD },
];

/** Annotations Istio itself writes; never reported (maturity.AlwaysIgnoredAnnotations). */
export const ALWAYS_IGNORED_ANNOTATIONS: ReadonlySet<string> = new Set(['sidecar.istio.io/status', 'gateway.istio.io/controller-version', 'istio.io/rev']);

const BY_NAME: ReadonlyMap<string, AnnotationInfo> = new Map(TABLE.map((a) => [a.name, a]));

export function lookupAnnotation(name: string): AnnotationInfo | undefined {
  return BY_NAME.get(name);
}

/** Annotations the analyzers consider Istio's: `kubernetes.io/ingress.class` and any whose prefix ends in `istio.io`. */
export function isIstioAnnotation(name: string): boolean {
  if (name === 'kubernetes.io/ingress.class') return true;
  return (name.split('/')[0] ?? '').endsWith('istio.io');
}
