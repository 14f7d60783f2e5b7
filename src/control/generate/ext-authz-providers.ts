import { statusCodeName } from '../../api/xds/http-status-codes.ts';
import { extAuthzProviderErrors } from '../config/ext-authz-provider-check.ts';
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
    errors.push(...extAuthzProviderErrors(name, isObj(http) ? 'envoyExtAuthzHttp' : 'envoyExtAuthzGrpc', (isObj(http) ? http : grpc) as Record<string, unknown>));
    const built = isObj(http) ? buildHttp(http as HttpProvider, lookup, errors) : buildGrpc(grpc as ProviderCommon, lookup, errors);
    out.set(name, errors.length > 0 ? { error: `failed to parse extension provider "${name}": ${errors.join('; ')}` } : built);
  });
  return out;
}

/** The provider's cluster (errors when the service is not in the registry) and statusOnError as HttpStatus. */
function common(c: ProviderCommon, lookup: ServiceLookup, errors: string[]): { hostname: string; cluster: string; status?: JsonObject } {
  const port = Number(c.port);
  const found = lookupCluster(c.service ?? '', port, lookup);
  if ('error' in found && c.service) errors.push(found.error);
  const code = c.statusOnError ? statusCodeName(Number(c.statusOnError)) : undefined;
  return { hostname: 'hostname' in found ? found.hostname : '', cluster: 'cluster' in found ? found.cluster : '', status: code ? { code } : undefined };
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

function timeoutOf(t: string | undefined): string {
  return (t !== undefined ? duration(t) : undefined) ?? '600s';
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
  const timeout = timeoutOf(c.timeout);
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
  const grpcService = { envoyGrpc: { clusterName: cluster, authority: hostname }, timeout: timeoutOf(c.timeout) };
  const http: JsonObject = { '@type': EXT.extAuthz.type, grpcService, transportApiVersion: 'V3' };
  if (status) http.statusOnError = status;
  if (c.failOpen) http.failureModeAllow = true;
  const body = withBody(c.includeRequestBodyInCheck);
  if (body) http.withRequestBody = body;
  const tcp: JsonObject = { '@type': EXT.networkExtAuthz.type, statPrefix: 'tcp.', transportApiVersion: 'V3', grpcService };
  if (c.failOpen) tcp.failureModeAllow = true;
  return { http, tcp };
}
