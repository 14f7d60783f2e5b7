/**
 * Who is on the other end of an xDS stream, as Istio models it (model.Proxy): parsed from the
 * Envoy `Node` of the first request — its ID (`TYPE~IP~POD.NS~NS.svc.cluster.local`) and its
 * metadata Struct (NAMESPACE, LABELS, SERVICE_ACCOUNT, CLUSTER_ID, INSTANCE_IPS, WORKLOAD_NAME,
 * GENERATOR, ISTIO_VERSION, ...).
 */
export type ProxyType = 'sidecar' | 'router' | 'ztunnel' | 'waypoint';

export const PROXY_TYPES: readonly ProxyType[] = ['sidecar', 'router', 'ztunnel', 'waypoint'];

export interface ProxyInfo {
  /** The full node ID as the client sent it. */
  id: string;
  type: ProxyType;
  ipAddresses: readonly string[];
  podName: string;
  namespace: string;
  /** `NS.svc.cluster.local` (fourth part of the node ID). */
  dnsDomain: string;
  labels: Readonly<Record<string, string>>;
  serviceAccount: string | undefined;
  clusterId: string;
  /** Node metadata as plain JSON (Struct decoded). */
  metadata: Readonly<Record<string, unknown>>;
  /** 'grpc' for proxyless gRPC clients (metadata GENERATOR "grpc", as Istio). */
  generator?: 'grpc';
  /** ISTIO_VERSION metadata or the client's user agent version; '' when unknown. */
  version: string;
  /** Node user_agent_name (e.g. `envoy`, `gRPC Node Pure JS`), '' when absent. */
  userAgent: string;
  workloadName: string | undefined;
  /** Envoy Node.locality as sent (`region/zone/subzone` parts; empty ones omitted), if any. */
  locality?: { region?: string; zone?: string; subzone?: string };
}

/** What the client sent in DiscoveryRequest.node (protobufjs object form, camelCase). */
export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: unknown;
  userAgentName?: string;
  userAgentVersion?: string;
  locality?: { region?: string; zone?: string; subZone?: string };
}

export type ProxyParseResult = { ok: true; proxy: ProxyInfo } | { ok: false; message: string };

/** Decode a google.protobuf.Struct / Value (protobufjs form) into plain JSON. */
export function structToJson(struct: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields;
  if (!fields || typeof fields !== 'object') return out;
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v);
  return out;
}

function valueToJson(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToJson(v.structValue);
  if ('listValue' in v) {
    const values = (v.listValue as { values?: unknown[] } | undefined)?.values ?? [];
    return values.map(valueToJson);
  }
  return null;
}

/** Encode plain JSON as a google.protobuf.Struct (protobufjs form), for clients and tests. */
export function jsonToStruct(obj: Record<string, unknown>): { fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): unknown {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}

const GRPC_USER_AGENTS = ['gRPC Node Pure JS', 'gRPC C-core', 'grpc-java', 'grpc-go', 'gRPC Go', 'gRPC Java'];

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val === 'string') out[k] = val;
      else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    }
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Parse a node into a ProxyInfo. Istio's node ID has four `~`-separated parts; a client that
 * sends another ID (a hand-written gRPC bootstrap, a test client) is accepted as a sidecar whose
 * namespace comes from metadata NAMESPACE (default `default`), so generic xDS clients work.
 * Unknown proxy types are an error (the stream is refused with a clear message).
 */
export function parseProxyInfo(node: NodeMessage | undefined | null): ProxyParseResult {
  if (!node || typeof node.id !== 'string' || node.id === '') {
    return { ok: false, message: 'the first DiscoveryRequest on a stream must carry node.id' };
  }
  const metadata = structToJson(node.metadata);
  const id = node.id;
  const parts = id.split('~');
  let type: ProxyType = 'sidecar';
  let ip: string | undefined;
  let podName = id;
  let namespace = str(metadata.NAMESPACE) ?? 'default';
  let dnsDomain = `${namespace}.svc.cluster.local`;
  if (parts.length === 4) {
    const [t, nodeIp, podDotNs, domain] = parts as [string, string, string, string];
    if (!(PROXY_TYPES as readonly string[]).includes(t)) {
      return { ok: false, message: `node.id ${JSON.stringify(id)}: unknown proxy type ${JSON.stringify(t)} (want one of ${PROXY_TYPES.join(', ')})` };
    }
    type = t as ProxyType;
    ip = nodeIp || undefined;
    const dot = podDotNs.lastIndexOf('.');
    if (dot > 0) {
      podName = podDotNs.slice(0, dot);
      namespace = str(metadata.NAMESPACE) ?? podDotNs.slice(dot + 1);
    } else {
      podName = podDotNs;
    }
    dnsDomain = domain || `${namespace}.svc.cluster.local`;
  } else if (parts.length > 1) {
    return { ok: false, message: `node.id ${JSON.stringify(id)}: want TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local` };
  }
  const instanceIps = (str(metadata.INSTANCE_IPS) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const ipAddresses = instanceIps.length > 0 ? instanceIps : ip ? [ip] : [];
  const userAgent = node.userAgentName ?? '';
  const generatorMeta = str(metadata.GENERATOR);
  const proxyless = generatorMeta === 'grpc' || (generatorMeta === undefined && GRPC_USER_AGENTS.includes(userAgent));
  const proxy: ProxyInfo = {
    id,
    type,
    ipAddresses,
    podName,
    namespace,
    dnsDomain,
    labels: stringRecord(metadata.LABELS),
    serviceAccount: str(metadata.SERVICE_ACCOUNT),
    clusterId: str(metadata.CLUSTER_ID) ?? 'Kubernetes',
    metadata,
    version: str(metadata.ISTIO_VERSION) ?? node.userAgentVersion ?? '',
    userAgent,
    workloadName: str(metadata.WORKLOAD_NAME),
    ...(proxyless ? { generator: 'grpc' as const } : {}),
  };
  const loc = node.locality;
  if (loc && (loc.region || loc.zone || loc.subZone)) {
    proxy.locality = {};
    if (loc.region) proxy.locality.region = loc.region;
    if (loc.zone) proxy.locality.zone = loc.zone;
    if (loc.subZone) proxy.locality.subzone = loc.subZone;
  }
  return { ok: true, proxy };
}

/** `POD.NS` key used by proxy-status/proxy-config and `/debug/config_dump?proxyID=`. */
export function proxyKey(proxy: Pick<ProxyInfo, 'podName' | 'namespace'>): string {
  return `${proxy.podName}.${proxy.namespace}`;
}
