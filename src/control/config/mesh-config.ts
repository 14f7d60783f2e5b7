import { parse } from 'yaml';
import { MizzenError } from '../../lib/errors.ts';
import { extAuthzProviderErrors } from './ext-authz-provider-check.ts';

/**
 * Mesh-wide settings, with Istio's MeshConfig field names and defaults (istio.mesh.v1alpha1).
 * Only the fields Mizzen reads are typed; other Istio fields are accepted and kept as given.
 */
export interface ProxyConfig {
  discoveryAddress: string;
  proxyAdminPort: number;
  statusPort: number;
  drainDuration: string;
  terminationDrainDuration: string;
  controlPlaneAuthPolicy: 'NONE' | 'MUTUAL_TLS';
  concurrency?: number;
  meshId?: string;
  proxyMetadata: Record<string, string>;
  holdApplicationUntilProxyStarts?: boolean;
  /** Legacy tracing settings (sampling %, custom tags, the bootstrap tracer's address). */
  tracing?: ProxyTracing;
  [field: string]: unknown;
}

/** ProxyConfig.tracing (istio.mesh.v1alpha1.Tracing), the fields Mizzen reads. */
export interface ProxyTracing {
  sampling?: number;
  maxPathTagLength?: number;
  customTags?: Record<string, unknown>;
  enableIstioTags?: boolean;
  zipkin?: { address?: string };
  [field: string]: unknown;
}

/** MeshConfig.ExtensionProvider: a name and one provider body (zipkin, opentelemetry, prometheus, envoyFileAccessLog, ...). */
export interface ExtensionProvider {
  name: string;
  [provider: string]: unknown;
}

export interface LocalityLbSetting {
  enabled?: boolean;
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  failoverPriority?: string[];
}

/** MeshConfig.ProxyPathNormalization.NormalizationType (DEFAULT means BASE). */
export type PathNormalizationType = 'DEFAULT' | 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export interface MeshConfig {
  rootNamespace: string;
  trustDomain: string;
  trustDomainAliases: string[];
  defaultConfig: ProxyConfig;
  proxyListenPort: number;
  proxyInboundListenPort: number;
  proxyHttpPort?: number;
  connectTimeout: string;
  /** Upgrade HTTP/1.1 to HTTP/2 on the outbound clusters of HTTP ports (a DestinationRule's h2UpgradePolicy overrides it). */
  h2UpgradePolicy?: 'DO_NOT_UPGRADE' | 'UPGRADE';
  protocolDetectionTimeout: string;
  enableAutoMtls: boolean;
  enableTracing: boolean;
  enablePrometheusMerge: boolean;
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  inboundTrafficPolicy: { mode: 'PASSTHROUGH' | 'LOCALHOST' };
  accessLogFile: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  accessLogFormat: string;
  defaultServiceExportTo: string[];
  defaultVirtualServiceExportTo: string[];
  defaultDestinationRuleExportTo: string[];
  ingressClass: string;
  ingressService: string;
  ingressControllerMode: 'UNSPECIFIED' | 'OFF' | 'DEFAULT' | 'STRICT';
  localityLbSetting: LocalityLbSetting;
  dnsRefreshRate: string;
  extensionProviders: ExtensionProvider[];
  defaultProviders: { metrics?: string[]; tracing?: string[]; accessLogging?: string[] };
  serviceSettings: Record<string, unknown>[];
  /** How proxies normalize request paths before routing and authorization; unset = BASE. */
  pathNormalization?: { normalization?: PathNormalizationType };
  [field: string]: unknown;
}

/** Istio's defaults (mesh.DefaultMeshConfig / DefaultProxyConfig), for the fields above. */
export function defaultMeshConfig(): MeshConfig {
  return {
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
    trustDomainAliases: [],
    defaultConfig: {
      discoveryAddress: 'istiod.istio-system.svc:15012',
      proxyAdminPort: 15000,
      statusPort: 15020,
      drainDuration: '45s',
      terminationDrainDuration: '5s',
      controlPlaneAuthPolicy: 'MUTUAL_TLS',
      proxyMetadata: {},
    },
    proxyListenPort: 15001,
    proxyInboundListenPort: 15006,
    connectTimeout: '10s',
    protocolDetectionTimeout: '0s',
    enableAutoMtls: true,
    enableTracing: true,
    enablePrometheusMerge: true,
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    inboundTrafficPolicy: { mode: 'PASSTHROUGH' },
    accessLogFile: '',
    accessLogEncoding: 'TEXT',
    accessLogFormat: '',
    defaultServiceExportTo: ['*'],
    defaultVirtualServiceExportTo: ['*'],
    defaultDestinationRuleExportTo: ['*'],
    ingressClass: 'istio',
    ingressService: 'istio-ingressgateway',
    ingressControllerMode: 'STRICT',
    localityLbSetting: { enabled: true },
    dnsRefreshRate: '60s',
    // Istio's code defaults; defaultProviders.metrics as Istio's standard install (helm) sets it
    extensionProviders: [{ name: 'prometheus', prometheus: {} }, { name: 'stackdriver', stackdriver: {} }, { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } }],
    defaultProviders: { metrics: ['prometheus'] },
    serviceSettings: [],
  };
}

type Check = (v: unknown) => string | undefined;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const string: Check = (v) => (typeof v === 'string' ? undefined : 'must be a string');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
const port: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : 'must be a port number (0-65535)');
const duration: Check = (v) => (typeof v === 'string' && /^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(v) ? undefined : 'must be a duration such as "10s" or "500ms"');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`;
const strings: Check = (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'must be a list of strings');
const object: Check = (v) => (isObj(v) ? undefined : 'must be a mapping');
const list: Check = (v) => (Array.isArray(v) ? undefined : 'must be a list');
const hostPort: Check = (v) => (typeof v === 'string' && /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(v) ? undefined : 'must be HOST:PORT');
const exportTo: Check = (v) => strings(v) ?? ((v as string[]).some((s) => s === '' || /\s/.test(s)) ? 'entries must be "*", ".", "~" or namespace names' : undefined);

/** Field checks; nested mappings by dotted path. Fields not listed pass through unchecked. */
const CHECKS: Record<string, Check> = {
  rootNamespace: (v) => string(v) ?? (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v as string) ? undefined : 'must be a namespace name'),
  trustDomain: (v) => string(v) ?? ((v as string) === '' ? 'must not be empty' : undefined),
  trustDomainAliases: strings,
  defaultConfig: object,
  'defaultConfig.discoveryAddress': hostPort,
  'defaultConfig.proxyAdminPort': port,
  'defaultConfig.statusPort': port,
  'defaultConfig.drainDuration': duration,
  'defaultConfig.terminationDrainDuration': duration,
  'defaultConfig.controlPlaneAuthPolicy': oneOf('NONE', 'MUTUAL_TLS'),
  'defaultConfig.concurrency': (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'must be a non-negative integer'),
  'defaultConfig.proxyMetadata': (v) => (isObj(v) && Object.values(v).every((s) => typeof s === 'string') ? undefined : 'must map names to strings'),
  'defaultConfig.holdApplicationUntilProxyStarts': bool,
  'defaultConfig.tracing': (v) => object(v) ?? tracingCheck(v as Record<string, unknown>),
  proxyListenPort: port,
  proxyInboundListenPort: port,
  proxyHttpPort: port,
  connectTimeout: duration,
  h2UpgradePolicy: oneOf('DO_NOT_UPGRADE', 'UPGRADE'),
  protocolDetectionTimeout: duration,
  dnsRefreshRate: duration,
  enableAutoMtls: bool,
  enableTracing: bool,
  enablePrometheusMerge: bool,
  outboundTrafficPolicy: object,
  'outboundTrafficPolicy.mode': oneOf('ALLOW_ANY', 'REGISTRY_ONLY'),
  inboundTrafficPolicy: object,
  'inboundTrafficPolicy.mode': oneOf('PASSTHROUGH', 'LOCALHOST'),
  accessLogFile: string,
  accessLogEncoding: oneOf('TEXT', 'JSON'),
  accessLogFormat: string,
  defaultServiceExportTo: exportTo,
  defaultVirtualServiceExportTo: exportTo,
  defaultDestinationRuleExportTo: exportTo,
  ingressClass: string,
  ingressService: string,
  ingressControllerMode: oneOf('UNSPECIFIED', 'OFF', 'DEFAULT', 'STRICT'),
  localityLbSetting: object,
  'localityLbSetting.enabled': bool,
  'localityLbSetting.distribute': list,
  'localityLbSetting.failover': list,
  'localityLbSetting.failoverPriority': strings,
  extensionProviders: (v) => list(v) ?? providersCheck(v as unknown[]),
  defaultProviders: object,
  'defaultProviders.metrics': strings,
  'defaultProviders.tracing': strings,
  'defaultProviders.accessLogging': strings,
  serviceSettings: list,
  pathNormalization: object,
  'pathNormalization.normalization': oneOf('DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'),
};

function tracingCheck(t: Record<string, unknown>): string | undefined {
  if (t.sampling !== undefined && (typeof t.sampling !== 'number' || t.sampling < 0 || t.sampling > 100)) return 'tracing.sampling must be a percentage (0.0-100.0)';
  if (t.zipkin !== undefined && (!isObj(t.zipkin) || (t.zipkin.address !== undefined && hostPort(t.zipkin.address) !== undefined))) return 'tracing.zipkin.address must be HOST:PORT';
  for (const k of ['lightstep', 'datadog', 'stackdriver', 'openCensusAgent']) if (t[k] !== undefined) return `tracing.${k} is not supported by Mizzen (use zipkin, or an extension provider)`;
  return undefined;
}

function providersCheck(list: unknown[]): string | undefined {
  for (const [i, p] of list.entries()) {
    if (!isObj(p) || typeof p.name !== 'string' || p.name === '') return `[${i}]: every extension provider needs a name`;
    const kinds = Object.keys(p).filter((k) => k !== 'name');
    if (kinds.length !== 1) return `[${i}] ${p.name}: exactly one provider kind (zipkin, opentelemetry, prometheus, envoyFileAccessLog, ...) must be set`;
  }
  return undefined;
}

/** Extension provider kinds Mizzen implements: Telemetry's, and ext_authz for AuthorizationPolicy CUSTOM. */
const IMPLEMENTED_PROVIDERS = new Set(['zipkin', 'opentelemetry', 'prometheus', 'envoyFileAccessLog', 'envoyExtAuthzHttp', 'envoyExtAuthzGrpc']);

/** Extension providers merge by name over the lower layer (Istio's ApplyMeshConfig). */
function mergeProviders(base: unknown, user: ExtensionProvider[]): ExtensionProvider[] {
  const out = Array.isArray(base) ? (structuredClone(base) as ExtensionProvider[]) : [];
  for (const p of user) {
    const i = out.findIndex((e) => e.name === p.name);
    if (i >= 0) out[i] = structuredClone(p);
    else out.push(structuredClone(p));
  }
  return out;
}

/** Mapping fields merged field by field over the defaults (as Istio's YAML merge does). */
const MERGED = new Set(['defaultConfig', 'outboundTrafficPolicy', 'inboundTrafficPolicy', 'localityLbSetting', 'defaultProviders', 'pathNormalization']);

export interface MeshConfigIssue {
  path: string;
  message: string;
}

export type MeshConfigResult = { ok: true; config: MeshConfig; warnings: MeshConfigIssue[] } | { ok: false; errors: MeshConfigIssue[] };

/** Check user mesh config fields against their types; `prefix` for nested mappings. */
function checkFields(value: Record<string, unknown>, prefix: string, errors: MeshConfigIssue[]): void {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const check = CHECKS[path];
    if (v === null) continue; // YAML `field:` with no value: default kept
    const problem = check?.(v);
    if (problem) errors.push({ path, message: problem });
    else if (MERGED.has(path) && isObj(v)) checkFields(v, path, errors);
  }
}

/**
 * Merge user MeshConfig fields over a base (defaults, or the lower layer): scalars and lists
 * replace, the mappings in MERGED merge one level deep. Invalid input → errors, nothing merged.
 */
export function applyMeshConfig(base: MeshConfig, user: unknown): MeshConfigResult {
  if (user === null || user === undefined) return { ok: true, config: structuredClone(base), warnings: [] };
  if (!isObj(user)) return { ok: false, errors: [{ path: '', message: 'mesh config must be a YAML mapping of MeshConfig fields' }] };
  const errors: MeshConfigIssue[] = [];
  checkFields(user, '', errors);
  if (errors.length > 0) return { ok: false, errors };
  const warnings: MeshConfigIssue[] = [];
  const config = structuredClone(base);
  for (const [k, v] of Object.entries(user)) {
    if (v === null) continue;
    if (!(k in CHECKS)) warnings.push({ path: k, message: 'field not used by Mizzen (kept as given)' });
    const current = config[k];
    if (k === 'extensionProviders') {
      config.extensionProviders = mergeProviders(current, v as ExtensionProvider[]);
      for (const p of v as ExtensionProvider[]) {
        const kind = Object.keys(p).find((x) => x !== 'name') ?? '';
        if (!IMPLEMENTED_PROVIDERS.has(kind)) warnings.push({ path: `extensionProviders[${p.name}].${kind}`, message: 'provider kind not implemented by Mizzen (zipkin, opentelemetry, prometheus, envoyFileAccessLog, envoyExtAuthzHttp and envoyExtAuthzGrpc are): Telemetry naming it has no effect' });
        if ((kind === 'envoyExtAuthzHttp' || kind === 'envoyExtAuthzGrpc') && isObj(p[kind])) {
          for (const e of extAuthzProviderErrors(p.name, kind, p[kind])) warnings.push({ path: `extensionProviders[${p.name}].${kind}`, message: `${e}: AuthorizationPolicy CUSTOM naming it denies what its rules select` });
        }
      }
      continue;
    }
    config[k] = MERGED.has(k) && isObj(current) && isObj(v) ? { ...current, ...structuredClone(v) } : structuredClone(v);
  }
  return { ok: true, config, warnings };
}

/** Parse MeshConfig YAML (a `meshconfig.yaml` file or ConfigMap `istio` key `mesh`) over a base. */
export function tryParseMeshConfig(text: string, base: MeshConfig = defaultMeshConfig()): MeshConfigResult {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    return { ok: false, errors: [{ path: '', message: `invalid YAML${line ? ` at line ${line}` : ''}: ${(err as Error).message.split('\n')[0]}` }] };
  }
  return applyMeshConfig(base, value);
}

/** Like tryParseMeshConfig, but throws a MizzenError (CONFIG_INVALID) naming the source and fields. */
export function parseMeshConfig(text: string, source = 'mesh config', base: MeshConfig = defaultMeshConfig()): MeshConfig {
  const result = tryParseMeshConfig(text, base);
  if (result.ok) return result.config;
  const detail = result.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
  throw new MizzenError('CONFIG_INVALID', `${source}: ${detail}`, { hint: 'the previous mesh config stays in force' });
}
