import { statusCodeName } from '../../api/xds/http-status-codes.ts';
import { duration, EXT, type JsonObject } from './envoy-extensions.ts';

/**
 * MeshConfig `extensionProviders` of kind envoyExtAuthzHttp / envoyExtAuthzGrpc turned into the
 * ext_authz filter configs istiod generates for AuthorizationPolicy CUSTOM (its extauthz.go):
 * the HTTP filter (http_service or grpc_service) and, for gRPC providers, the network filter for
 * TCP chains. A provider with an error (bad port, service not in the registry, bad statusOnError,
 * pathPrefix, a lone `*` header pattern, a bad name) resolves to its error: the policies naming
 * it are then enforced as DENY (see authz-custom.ts), never allowed by omission.
 */
export interface ResolvedExtAuthz {
  /** envoy.filters.http.ext_authz typed config (filterEnabledMetadata set per provider by the caller). */
  http?: JsonObject;
  /** envoy.filters.network.ext_authz typed config (gRPC providers only). */
  tcp?: JsonObject;
  error?: string;
}

/** The services the registry knows under a hostname (Istio's ServiceIndex.HostnameAndNamespace). */
export type ServiceLookup = (hostname: string) => readonly { hostname: string; namespace: string }[];

interface RequestBody {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

interface ProviderCommon {
  service?: string;
  port?: number | string;
  timeout?: string;
  failOpen?: boolean;
  statusOnError?: string;
  includeRequestBodyInCheck?: RequestBody;
}

interface HttpProvider extends ProviderCommon {
  pathPrefix?: string;
  includeHeadersInCheck?: string[];
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every ext_authz provider of the mesh config by name (other provider kinds are not listed). */
export function resolveExtAuthzProviders(providers: readonly unknown[] | undefined, lookup: ServiceLookup): Map<string, ResolvedExtAuthz> {
  const out = new Map<string, ResolvedExtAuthz>();
  (providers ?? []).forEach((p, i) => {
    if (!isObj(p)) return;
    const http = p.envoyExtAuthzHttp;
    const grpc = p.envoyExtAuthzGrpc;
    if (!isObj(http) && !isObj(grpc)) return;
    const name = typeof p.name === 'string' ? p.name : '';
    const errors: string[] = [];
    if (name === '') errors.push(`extension provider name must not be empty, found empty at index: ${i}`);
    else if (out.has(name)) errors.push(`extension provider name must be unique, found duplicate: ${name}`);
    else {
      const bad = providerNameError(name);
      if (bad) errors.push(`invalid provider name "${name}": ${bad}`);
    }
    const built = isObj(http) ? buildHttp(http as HttpProvider, lookup, errors) : buildGrpc(grpc as ProviderCommon, lookup, errors);
    out.set(name, errors.length > 0 ? { error: `failed to parse extension provider "${name}": ${errors.join('; ')}` } : built);
  });
  return out;
}

/** Istio's provider name rule: a DNS-1123 label (lowercase letters, digits, '-'), at most 63 characters. */
export function providerNameError(name: string): string | undefined {
  if (name.length > 63) return `provider name too long (max 63 characters): ${name.length}`;
  const bad = /[^a-z0-9-]/.exec(name);
  if (bad) return /[A-Z]/.test(bad[0]) ? `uppercase letters not allowed (use lowercase): character "${bad[0]}" at position ${bad.index}` : `invalid character "${bad[0]}" at position ${bad.index} (only lowercase letters, digits, and hyphens allowed)`;
  if (name.startsWith('-') || name.endsWith('-')) return 'provider name cannot start or end with hyphen';
  return undefined;
}

/** Istio's checks shared by both kinds (ValidateExtensionProviderEnvoyExtAuthz*): port, service, statusOnError. */
function common(c: ProviderCommon, lookup: ServiceLookup, errors: string[]): { hostname: string; cluster: string; status?: JsonObject } {
  const port = typeof c.port === 'string' && /^\d+$/.test(c.port) ? Number(c.port) : c.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) errors.push(`port must be in the range [1, 65535], found: ${String(c.port ?? 0)}`);
  const found = lookupCluster(c.service ?? '', typeof port === 'number' ? port : 0, lookup);
  if ('error' in found) errors.push(found.error);
  let status: JsonObject | undefined;
  if (c.statusOnError !== undefined && c.statusOnError !== '') {
    const code = /^-?\d+$/.test(c.statusOnError) ? statusCodeName(Number(c.statusOnError)) : undefined;
    if (code === undefined) errors.push(`unsupported statusOnError ${c.statusOnError}`);
    else status = { code };
  }
  return { hostname: 'hostname' in found ? found.hostname : '', cluster: 'cluster' in found ? found.cluster : '', status };
}

/** `NAMESPACE/HOSTNAME`, or a hostname registered in exactly one namespace → `outbound|PORT||HOSTNAME` (Istio's LookupCluster). */
export function lookupCluster(service: string, port: number, lookup: ServiceLookup): { hostname: string; cluster: string } | { error: string } {
  if (service === '') return { error: 'service must not be empty' };
  const parts = service.split('/');
  if (parts.length === 2) {
    const svc = lookup(parts[1]).find((s) => s.namespace === parts[0]);
    if (svc) return { hostname: svc.hostname, cluster: `outbound|${port}||${svc.hostname}` };
  } else if (parts.length === 1) {
    const namespaces = [...new Set(lookup(service).map((s) => s.namespace))];
    if (namespaces.length === 1) return { hostname: service, cluster: `outbound|${port}||${service}` };
    if (namespaces.length > 1) return { error: `found ${service} in multiple namespaces [${namespaces.sort().join(' ')}], specify the namespace explicitly in the format of <Namespace>/<Hostname>` };
  }
  return { error: `could not find service ${service} in Istio service registry` };
}

function timeoutOf(t: string | undefined, errors: string[]): string {
  if (t === undefined) return '600s';
  const d = duration(t);
  if (!d) errors.push(`invalid timeout ${t}`);
  return d ?? '600s';
}

/** Istio's header patterns: `pre*` prefix, `*suf` suffix, else exact; always case-insensitive. */
function headers(list: string[] | undefined): JsonObject | undefined {
  if (!list || list.length === 0) return undefined;
  return {
    patterns: list.map((h) => (h.startsWith('*') ? { suffix: h.slice(1), ignoreCase: true } : h.endsWith('*') ? { prefix: h.slice(0, -1), ignoreCase: true } : { exact: h, ignoreCase: true })),
  };
}

function withBody(b: RequestBody | undefined): JsonObject | undefined {
  if (!b) return undefined;
  const out: JsonObject = {};
  if (b.maxRequestBytes) out.maxRequestBytes = b.maxRequestBytes;
  if (b.allowPartialMessage) out.allowPartialMessage = true;
  if (b.packAsBytes) out.packAsBytes = true;
  return out;
}

function buildHttp(c: HttpProvider, lookup: ServiceLookup, errors: string[]): ResolvedExtAuthz {
  const { hostname, cluster, status } = common(c, lookup, errors);
  const timeout = timeoutOf(c.timeout, errors);
  if (c.pathPrefix && !c.pathPrefix.startsWith('/')) errors.push(`pathPrefix must begin with \`/\`, found: "${c.pathPrefix}"`);
  const lists: [string, string[] | undefined][] = [
    ['IncludeRequestHeadersInCheck', c.includeRequestHeadersInCheck], ['IncludeHeadersInCheck', c.includeHeadersInCheck],
    ['HeadersToDownstreamOnDeny', c.headersToDownstreamOnDeny], ['HeadersToDownstreamOnAllow', c.headersToDownstreamOnAllow],
    ['HeadersToUpstreamOnAllow', c.headersToUpstreamOnAllow],
  ];
  for (const [field, values] of lists) {
    if ((values ?? []).includes('*')) errors.push(`a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${field}`);
  }
  const service: JsonObject = { serverUri: { uri: `http://${hostname}`, cluster, timeout } };
  if (c.pathPrefix) service.pathPrefix = c.pathPrefix;
  const additional = Object.keys(c.includeAdditionalHeadersInCheck ?? {}).sort();
  if (additional.length > 0) service.authorizationRequest = { headersToAdd: additional.map((key) => ({ key, value: c.includeAdditionalHeadersInCheck![key] })) };
  if ((c.headersToUpstreamOnAllow?.length ?? 0) > 0 || (c.headersToDownstreamOnDeny?.length ?? 0) > 0 || (c.headersToDownstreamOnAllow?.length ?? 0) > 0) {
    const response: JsonObject = {};
    const up = headers(c.headersToUpstreamOnAllow);
    const deny = headers(c.headersToDownstreamOnDeny);
    const allow = headers(c.headersToDownstreamOnAllow);
    if (up) response.allowedUpstreamHeaders = up;
    if (deny) response.allowedClientHeaders = deny;
    if (allow) response.allowedClientHeadersOnSuccess = allow;
    service.authorizationResponse = response;
  }
  const config: JsonObject = { '@type': EXT.extAuthz.type, transportApiVersion: 'V3', httpService: service };
  if (status) config.statusOnError = status;
  if (c.failOpen) config.failureModeAllow = true;
  const body = withBody(c.includeRequestBodyInCheck);
  if (body) config.withRequestBody = body;
  // includeHeadersInCheck is deprecated: used only when includeRequestHeadersInCheck is not set
  const allowed = headers(c.includeRequestHeadersInCheck) ?? headers(c.includeHeadersInCheck);
  if (allowed) config.allowedHeaders = allowed;
  return { http: config };
}

function buildGrpc(c: ProviderCommon, lookup: ServiceLookup, errors: string[]): ResolvedExtAuthz {
  const { hostname, cluster, status } = common(c, lookup, errors);
  const grpcService = { envoyGrpc: { clusterName: cluster, authority: hostname }, timeout: timeoutOf(c.timeout, errors) };
  const http: JsonObject = { '@type': EXT.extAuthz.type, grpcService, transportApiVersion: 'V3' };
  if (status) http.statusOnError = status;
  if (c.failOpen) http.failureModeAllow = true;
  const body = withBody(c.includeRequestBodyInCheck);
  if (body) http.withRequestBody = body;
  const tcp: JsonObject = { '@type': EXT.networkExtAuthz.type, statPrefix: 'tcp.', transportApiVersion: 'V3', grpcService };
  if (c.failOpen) tcp.failureModeAllow = true;
  return { http, tcp };
}
