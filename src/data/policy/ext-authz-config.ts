import { statusCodeNumber } from '../../api/xds/http-status-codes.ts';
import { compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';
import { asArray, asNumber, asObj, asString, durationMs, fractionalPercent, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileMetadataMatcher, type MetadataMatch } from './metadata-matcher.ts';

export const HTTP_EXT_AUTHZ_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const NETWORK_EXT_AUTHZ_TYPE = 'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz';

/** A header-name list (envoy.type.matcher.v3.ListStringMatcher): matches when one pattern does. */
export type HeaderNames = (name: string) => boolean;

/** Where the Check goes: envoy_grpc (Authorization/Check over the cluster) or an HTTP service. */
export type ExtAuthzService =
  | { kind: 'grpc'; cluster: string; authority: string; timeoutMs: number }
  | {
      kind: 'http';
      cluster: string;
      timeoutMs: number;
      pathPrefix: string;
      headersToAdd: readonly [string, string][];
      /** authorization_response lists; undefined: not set. */
      upstream: HeaderNames | undefined;
      upstreamAppend: HeaderNames | undefined;
      client: HeaderNames | undefined;
      clientOnSuccess: HeaderNames | undefined;
    };

/** A compiled envoy.extensions.filters.{http,network}.ext_authz.v3.ExtAuthz. */
export interface ExtAuthzConfig {
  service: ExtAuthzService;
  failureModeAllow: boolean;
  failureModeAllowHeaderAdd: boolean;
  /** Local reply status when the check fails (default 403). */
  statusOnError: number;
  /** with_request_body (HTTP): buffer up to maxBytes before checking. */
  withBody: { maxBytes: number; allowPartial: boolean; packAsBytes: boolean } | undefined;
  /** Request headers sent in the check; undefined: gRPC all, HTTP the defaults only. */
  allowedHeaders: HeaderNames | undefined;
  disallowedHeaders: HeaderNames | undefined;
  /** Run only when this matches the stream's dynamic metadata (Istio: the CUSTOM rules matched). */
  enabledMetadata: MetadataMatch | undefined;
  /** filter_enabled: fraction of requests checked (default all). */
  enabledFraction: number;
  metadataContextNamespaces: readonly string[];
  includePeerCertificate: boolean;
  includeTlsSession: boolean;
}

const HTTP_FIELDS = [
  'grpcService', 'httpService', 'transportApiVersion', 'failureModeAllow', 'failureModeAllowHeaderAdd', 'withRequestBody',
  'clearRouteCache', 'statusOnError', 'metadataContextNamespaces', 'filterEnabled', 'filterEnabledMetadata', 'denyAtDisable',
  'includePeerCertificate', 'statPrefix', 'allowedHeaders', 'disallowedHeaders', 'includeTlsSession', 'chargeClusterResponseStats',
  'encodeRawHeaders', 'validateMutations', 'bootstrapMetadataLabelsKey', 'emitFilterStateStats',
];
const NETWORK_FIELDS = ['statPrefix', 'grpcService', 'failureModeAllow', 'includePeerCertificate', 'transportApiVersion', 'filterEnabledMetadata', 'bootstrapMetadataLabelsKey', 'includeTlsSession'];

export function compileHeaderNames(v: unknown, path: string): HeaderNames | undefined {
  if (v === undefined) return undefined;
  const patterns = asArray(asObj(v).patterns).map((p, i) => compileStringMatcher(p, `${path}.patterns[${i}]`));
  return (name) => patterns.some((m: StringMatch) => m(name));
}

function compileGrpcService(v: unknown, path: string): ExtAuthzService {
  const o = asObj(v);
  onlyFields(o, path, ['envoyGrpc', 'googleGrpc', 'timeout', 'initialMetadata', 'retryPolicy']);
  if (o.envoyGrpc === undefined) reject(`${path}.googleGrpc`, 'only envoy_grpc (a cluster) is supported');
  const g = asObj(o.envoyGrpc);
  onlyFields(g, `${path}.envoyGrpc`, ['clusterName', 'authority', 'retryPolicy', 'maxReceiveMessageLength', 'skipEnvoyHeaders']);
  const cluster = asString(g.clusterName);
  if (!cluster) reject(`${path}.envoyGrpc.clusterName`, 'required');
  // Envoy's default authority for envoy_grpc is the cluster name
  return { kind: 'grpc', cluster, authority: asString(g.authority) || cluster, timeoutMs: durationMs(o.timeout) ?? 200 };
}

function compileHttpService(v: unknown, path: string): ExtAuthzService {
  const o = asObj(v);
  onlyFields(o, path, ['serverUri', 'pathPrefix', 'authorizationRequest', 'authorizationResponse', 'retryPolicy']);
  const uri = asObj(o.serverUri);
  onlyFields(uri, `${path}.serverUri`, ['uri', 'cluster', 'timeout']);
  const cluster = asString(uri.cluster);
  if (!cluster) reject(`${path}.serverUri.cluster`, 'required');
  const req = asObj(o.authorizationRequest);
  onlyFields(req, `${path}.authorizationRequest`, ['allowedHeaders', 'headersToAdd']);
  if (req.allowedHeaders !== undefined) reject(`${path}.authorizationRequest.allowedHeaders`, 'deprecated: use ExtAuthz.allowed_headers');
  const res = asObj(o.authorizationResponse);
  const rp = `${path}.authorizationResponse`;
  onlyFields(res, rp, ['allowedUpstreamHeaders', 'allowedUpstreamHeadersToAppend', 'allowedClientHeaders', 'allowedClientHeadersOnSuccess', 'dynamicMetadataFromHeaders']);
  if (res.dynamicMetadataFromHeaders !== undefined) reject(`${rp}.dynamicMetadataFromHeaders`, 'not supported by mizzen proxy');
  return {
    kind: 'http',
    cluster,
    timeoutMs: durationMs(uri.timeout) ?? 200,
    pathPrefix: asString(o.pathPrefix),
    headersToAdd: asArray(req.headersToAdd).map((h) => [asString(h.key).toLowerCase(), asString(h.value)] as [string, string]),
    upstream: compileHeaderNames(res.allowedUpstreamHeaders, `${rp}.allowedUpstreamHeaders`),
    upstreamAppend: compileHeaderNames(res.allowedUpstreamHeadersToAppend, `${rp}.allowedUpstreamHeadersToAppend`),
    client: compileHeaderNames(res.allowedClientHeaders, `${rp}.allowedClientHeaders`),
    clientOnSuccess: compileHeaderNames(res.allowedClientHeadersOnSuccess, `${rp}.allowedClientHeadersOnSuccess`),
  };
}

export function compileHttpExtAuthz(config: Obj, path: string): ExtAuthzConfig {
  onlyFields(config, path, HTTP_FIELDS);
  for (const f of ['encodeRawHeaders', 'validateMutations', 'bootstrapMetadataLabelsKey'] as const) {
    if (config[f]) reject(`${path}.${f}`, 'not supported by mizzen proxy');
  }
  if (asString(config.transportApiVersion, 'V3') !== 'V3') reject(`${path}.transportApiVersion`, 'only V3');
  if ((config.grpcService === undefined) === (config.httpService === undefined)) reject(path, 'exactly one of grpc_service and http_service is required');
  const service = config.grpcService !== undefined ? compileGrpcService(config.grpcService, `${path}.grpcService`) : compileHttpService(config.httpService, `${path}.httpService`);
  const body = config.withRequestBody === undefined ? undefined : asObj(config.withRequestBody);
  if (body && asNumber(body.maxRequestBytes) <= 0) reject(`${path}.withRequestBody.maxRequestBytes`, 'must be greater than 0');
  const fe = asObj(asObj(config.filterEnabled).defaultValue);
  return {
    service,
    failureModeAllow: config.failureModeAllow === true,
    failureModeAllowHeaderAdd: config.failureModeAllowHeaderAdd === true,
    statusOnError: config.statusOnError === undefined ? 403 : (statusCodeNumber(asObj(config.statusOnError).code) ?? 403),
    withBody: body ? { maxBytes: asNumber(body.maxRequestBytes), allowPartial: body.allowPartialMessage === true, packAsBytes: body.packAsBytes === true } : undefined,
    allowedHeaders: compileHeaderNames(config.allowedHeaders, `${path}.allowedHeaders`),
    disallowedHeaders: compileHeaderNames(config.disallowedHeaders, `${path}.disallowedHeaders`),
    enabledMetadata: config.filterEnabledMetadata === undefined ? undefined : compileMetadataMatcher(config.filterEnabledMetadata, `${path}.filterEnabledMetadata`),
    enabledFraction: config.filterEnabled === undefined ? 1 : fractionalPercent(fe),
    metadataContextNamespaces: Array.isArray(config.metadataContextNamespaces) ? config.metadataContextNamespaces.map(String) : [],
    includePeerCertificate: config.includePeerCertificate === true,
    includeTlsSession: config.includeTlsSession === true,
  };
}

export function compileNetworkExtAuthz(config: Obj, path: string): ExtAuthzConfig {
  onlyFields(config, path, NETWORK_FIELDS);
  if (config.bootstrapMetadataLabelsKey) reject(`${path}.bootstrapMetadataLabelsKey`, 'not supported by mizzen proxy');
  if (config.grpcService === undefined) reject(`${path}.grpcService`, 'required');
  return {
    service: compileGrpcService(config.grpcService, `${path}.grpcService`),
    failureModeAllow: config.failureModeAllow === true,
    failureModeAllowHeaderAdd: false,
    statusOnError: 403,
    withBody: undefined,
    allowedHeaders: undefined,
    disallowedHeaders: undefined,
    enabledMetadata: config.filterEnabledMetadata === undefined ? undefined : compileMetadataMatcher(config.filterEnabledMetadata, `${path}.filterEnabledMetadata`),
    enabledFraction: 1,
    metadataContextNamespaces: [],
    includePeerCertificate: config.includePeerCertificate === true,
    includeTlsSession: config.includeTlsSession === true,
  };
}

/** ExtAuthzPerRoute: `disabled`, or check_settings (context_extensions, body buffering off). */
export interface ExtAuthzPerRoute {
  disabled: boolean;
  contextExtensions: Record<string, string>;
  disableBody: boolean;
}

export function compileExtAuthzPerRoute(config: Obj, path: string): ExtAuthzPerRoute {
  onlyFields(config, path, ['@type', 'disabled', 'checkSettings']);
  const cs = asObj(config.checkSettings);
  onlyFields(cs, `${path}.checkSettings`, ['contextExtensions', 'disableRequestBodyBuffering', 'withRequestBody']);
  if (cs.withRequestBody !== undefined) reject(`${path}.checkSettings.withRequestBody`, 'per-route body settings are not supported by mizzen proxy');
  const ext: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObj(cs.contextExtensions))) ext[k] = asString(v);
  return { disabled: config.disabled === true, contextExtensions: ext, disableBody: cs.disableRequestBodyBuffering === true };
}
