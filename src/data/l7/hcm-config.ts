import { messageNameOf } from '../../api/xds/type-urls.ts';
import { asArray, asObj, asString, durationMs, wrapped, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { FramingOptions } from '../http1/request-framing.ts';
import type { HttpFilter, HttpFilterRegistry } from './http-filter.ts';
import type { EscapedSlashesAction, PathNormalization } from './path-normalizer.ts';
import { compileRouteTable, type RouteTable } from './route-table.ts';

/** A compiled envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager. */
export interface HcmConfig {
  statPrefix: string;
  codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  routeConfigName: string | undefined;
  inlineRoutes: RouteTable | undefined;
  filters: readonly HttpFilter[];
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  skipXffAppend: boolean;
  serverName: string;
  serverHeader: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  alwaysSetRequestIdInResponse: boolean;
  forwardClientCert: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  setClientCert: { subject: boolean; uri: boolean; dns: boolean; cert: boolean };
  requestTimeoutMs: number;
  /** No activity on a stream for this long resets it (408 before the response); 0: never (HTTP/1.1 streams). */
  streamIdleTimeoutMs: number;
  /** Forward `Expect: 100-continue` and relay the upstream's `100 Continue`, instead of answering it here. */
  proxy100Continue: boolean;
  /** `max_request_headers_kb` (default 60 KiB): request head size, HTTP/1.1 and HTTP/2 → 431 / stream reset. */
  maxHeadersBytes: number;
  /** `common_http_protocol_options.max_headers_count` (default 100) → 431 / stream reset. */
  maxHeadersCount: number;
  /** `http_protocol_options`: accept_http_10, default_host_for_http_10, allow_chunked_length. */
  http1: FramingOptions;
  /** `normalize_path`, `merge_slashes`, `path_with_escaped_slashes_action`. */
  path: PathNormalization;
  /** `http2_protocol_options`: what the HTTP/2 side advertises and enforces. */
  http2: Http2Limits;
  upgrades: ReadonlySet<string>;
}

const HCM_FIELDS = [
  'codecType', 'statPrefix', 'rds', 'routeConfig', 'httpFilters', 'tracing', 'httpProtocolOptions', 'http2ProtocolOptions',
  'serverName', 'serverHeaderTransformation', 'maxRequestHeadersKb', 'streamIdleTimeout', 'requestTimeout',
  'requestHeadersTimeout', 'drainTimeout', 'delayedCloseTimeout', 'accessLog', 'accessLogOptions', 'useRemoteAddress',
  'xffNumTrustedHops', 'internalAddressConfig', 'skipXffAppend', 'via', 'generateRequestId', 'preserveExternalRequestId',
  'alwaysSetRequestIdInResponse', 'forwardClientCertDetails', 'setCurrentClientCertDetails', 'proxy_100Continue',
  'proxy100Continue', 'normalizePath', 'mergeSlashes', 'pathWithEscapedSlashesAction', 'requestIdExtension',
  'localReplyConfig', 'stripMatchingHostPort', 'stripAnyHostPort', 'upgradeConfigs', 'commonHttpProtocolOptions',
  'streamErrorOnInvalidHttpMessage', 'originalIpDetectionExtensions', 'proxyStatusConfig', 'appendXForwardedPort',
  'addProxyProtocolConnectionState', 'earlyHeaderMutationExtensions', 'representIpv4RemoteAddressAsIpv4MappedIpv6',
];

const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';

/** Downstream HTTP/2 settings (Envoy's Http2ProtocolOptions). */
export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS; Envoy's default 2147483647. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE; unset: Node's 65535 (Envoy: 256 MiB, kept small here as nothing else bounds buffering). */
  initialStreamWindowSize: number | undefined;
  initialConnectionWindowSize: number | undefined;
  /** SETTINGS_HEADER_TABLE_SIZE; default 4096. */
  hpackTableSize: number | undefined;
}

function http2Limits(o: Obj): Http2Limits {
  return {
    maxConcurrentStreams: wrapped(o.maxConcurrentStreams) ?? 2147483647,
    initialStreamWindowSize: wrapped(o.initialStreamWindowSize),
    initialConnectionWindowSize: wrapped(o.initialConnectionWindowSize),
    hpackTableSize: wrapped(o.hpackTableSize),
  };
}

const ESCAPED_SLASHES: ReadonlySet<string> = new Set(['KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD']);

/** Http1ProtocolOptions; header key formats and the rest only change how headers are written (ignored). */
function http1Options(o: Obj, path: string): FramingOptions {
  if (o.allowAbsoluteUrl !== undefined && wrappedBool(o.allowAbsoluteUrl) === false) reject(`${path}.allowAbsoluteUrl`, 'absolute-form request targets are always accepted');
  return {
    acceptHttp10: o.acceptHttp_10 === true || o.acceptHttp10 === true,
    defaultHostForHttp10: asString(o.defaultHostForHttp_10 ?? o.defaultHostForHttp10),
    allowChunkedLength: o.allowChunkedLength === true,
  };
}

/** `normalize_path` (default off, as Envoy without runtime overrides), `merge_slashes`, `path_with_escaped_slashes_action`. */
function pathNormalization(o: Obj, path: string): PathNormalization {
  let action = asString(o.pathWithEscapedSlashesAction, 'IMPLEMENTATION_SPECIFIC_DEFAULT');
  if (action === 'IMPLEMENTATION_SPECIFIC_DEFAULT') action = 'KEEP_UNCHANGED';
  if (!ESCAPED_SLASHES.has(action)) reject(`${path}.pathWithEscapedSlashesAction`, `unknown action ${action}`);
  return { normalize: wrappedBool(o.normalizePath) === true, mergeSlashes: o.mergeSlashes === true, escapedSlashes: action as EscapedSlashesAction };
}

export function compileHcm(o: Obj, path: string, registry: HttpFilterRegistry): HcmConfig {
  onlyFields(o, path, HCM_FIELDS);
  if (o.scopedRoutes !== undefined) reject(`${path}.scopedRoutes`, 'scoped routes are not supported');
  let routeConfigName: string | undefined;
  let inlineRoutes: RouteTable | undefined;
  if (o.rds !== undefined) {
    const rds = asObj(o.rds);
    onlyFields(rds, `${path}.rds`, ['configSource', 'routeConfigName']);
    routeConfigName = asString(rds.routeConfigName);
    if (!routeConfigName) reject(`${path}.rds.routeConfigName`, 'empty route config name');
  } else if (o.routeConfig !== undefined) {
    inlineRoutes = compileRouteTable(asObj(o.routeConfig));
  } else reject(path, 'needs rds or route_config');
  const filters: HttpFilter[] = [];
  const list = asArray(o.httpFilters);
  let sawRouter = false;
  list.forEach((f, i) => {
    const p = `${path}.httpFilters[${i}]`;
    onlyFields(f, p, ['name', 'typedConfig', 'isOptional', 'disabled', 'configDiscovery']);
    if (f.configDiscovery !== undefined) reject(`${p}.configDiscovery`, 'ECDS is not supported');
    const name = asString(f.name);
    const tc = asObj(f.typedConfig);
    let type = asString(tc['@type'] ?? tc.typeUrl);
    type = type ? messageNameOf(type) : '';
    if (type === 'udpa.type.v1.TypedStruct' || type === 'xds.type.v3.TypedStruct') type = messageNameOf(asString(tc.typeUrl));
    if (type === ROUTER || (!type && name === 'envoy.filters.http.router')) {
      sawRouter = true;
      if (i !== list.length - 1) reject(p, 'the router filter must be the last HTTP filter');
      return;
    }
    if (f.disabled === true) return;
    if (registry.isIgnored(type, name)) return;
    const factory = registry.factory(type);
    if (!factory) {
      if (f.isOptional === true) return;
      reject(`${p}.typedConfig`, `HTTP filter ${name} (${type || 'no type'}) is not supported`);
    }
    filters.push(factory(name, tc, `${p}.typedConfig`));
  });
  if (!sawRouter) reject(`${path}.httpFilters`, 'the router filter (envoy.filters.http.router) is required and must be last');
  const accessLog = Array.isArray(o.accessLog) && o.accessLog.length > 0 ? registry.accessLog?.(asArray(o.accessLog), `${path}.accessLog`) : undefined;
  if (accessLog) filters.unshift(accessLog);
  // tracing runs first: the request id's trace reason and the propagated context are set before other filters
  const tracing = o.tracing !== undefined && o.tracing !== null && registry.tracing ? registry.tracing(asObj(o.tracing), `${path}.tracing`) : undefined;
  if (tracing) filters.unshift(tracing);
  const xfcc = asString(o.forwardClientCertDetails, 'SANITIZE') as HcmConfig['forwardClientCert'];
  const scc = asObj(o.setCurrentClientCertDetails);
  const upgrades = new Set<string>();
  for (const u of asArray(o.upgradeConfigs)) if (wrappedBool(u.enabled) !== false) upgrades.add(asString(u.upgradeType).toLowerCase());
  const codec = asString(o.codecType, 'AUTO');
  if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2') reject(`${path}.codecType`, `codec ${codec} not supported`);
  return {
    statPrefix: asString(o.statPrefix),
    codec: codec as HcmConfig['codec'],
    routeConfigName,
    inlineRoutes,
    filters,
    useRemoteAddress: wrappedBool(o.useRemoteAddress) === true,
    xffNumTrustedHops: Number(o.xffNumTrustedHops ?? 0),
    skipXffAppend: o.skipXffAppend === true,
    serverName: asString(o.serverName, 'envoy'),
    serverHeader: asString(o.serverHeaderTransformation, 'OVERWRITE') as HcmConfig['serverHeader'],
    generateRequestId: wrappedBool(o.generateRequestId) ?? true,
    preserveExternalRequestId: o.preserveExternalRequestId === true,
    alwaysSetRequestIdInResponse: o.alwaysSetRequestIdInResponse === true,
    forwardClientCert: xfcc,
    setClientCert: { subject: wrappedBool(scc.subject) === true || scc.subject === true, uri: scc.uri === true, dns: scc.dns === true, cert: scc.cert === true },
    requestTimeoutMs: durationMs(o.requestTimeout) ?? 0,
    streamIdleTimeoutMs: durationMs(o.streamIdleTimeout) ?? 300_000,
    proxy100Continue: o.proxy100Continue === true || o.proxy_100Continue === true,
    maxHeadersBytes: (wrapped(o.maxRequestHeadersKb) ?? 60) * 1024,
    maxHeadersCount: wrapped(asObj(o.commonHttpProtocolOptions).maxHeadersCount) ?? 100,
    http1: http1Options(asObj(o.httpProtocolOptions), `${path}.httpProtocolOptions`),
    path: pathNormalization(o, path),
    http2: http2Limits(asObj(o.http2ProtocolOptions)),
    upgrades,
  };
}
