import { messageNameOf } from '../../api/xds/type-urls.ts';
import { asArray, asNumber, asObj, asString, durationMs, wrapped, wrappedBool, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import { compileCidr, type Cidr } from '../matchers/cidr.ts';
import { compileTransportSocket, type TlsSpec } from '../tls/tls-context-config.ts';
import { compileHcm, type HcmConfig } from '../l7/hcm-config.ts';
import type { HttpFilterRegistry } from '../l7/http-filter.ts';
import { compileTcpProxy, type TcpProxyConfig } from '../l4/tcp-proxy-config.ts';
import type { NetworkFilter, NetworkFilterRegistry } from './network-filter.ts';
import { isTcpMetadataExchange } from '../telemetry/tcp-metadata-exchange.ts';

export interface FilterChainMatchSpec {
  destinationPort: number | undefined;
  prefixRanges: readonly Cidr[];
  serverNames: readonly string[];
  transportProtocol: string | undefined;
  applicationProtocols: readonly string[];
  sourcePrefixRanges: readonly Cidr[];
  directSourcePrefixRanges: readonly Cidr[];
  sourcePorts: readonly number[];
  sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
}

export interface FilterChainSpec {
  name: string;
  /** The chain's config as received (JSON): an update leaves a chain with the same key (and its connections) alone. */
  key: string;
  match: FilterChainMatchSpec;
  tls: TlsSpec | undefined;
  /** transport_socket_connect_timeout: a TLS handshake not done by then closes the connection (0: none). */
  tlsHandshakeTimeoutMs: number;
  networkFilters: readonly NetworkFilter[];
  terminal: { kind: 'http'; hcm: HcmConfig } | { kind: 'tcp'; tcp: TcpProxyConfig };
  /** istio.metadata_exchange network filter: TCP metadata exchange when ALPN istio-peer-exchange is negotiated. */
  metadataExchange: boolean;
}

/** A compiled envoy.config.listener.v3.Listener. */
export interface ListenerSpec {
  name: string;
  address: string;
  port: number;
  bindToPort: boolean;
  useOriginalDst: boolean;
  /** The original_dst listener filter: match chains and ORIGINAL_DST clusters on the captured destination. */
  originalDstFilter: boolean;
  filterChains: readonly FilterChainSpec[];
  defaultChain: FilterChainSpec | undefined;
  /** Run tls_inspector / http_inspector (sniff the first bytes) before choosing a chain. */
  sniff: boolean;
  direction: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';
  /**
   * An Envoy internal listener (`internal_listener`): never bound; connections come from inside
   * the proxy (the waypoint's HBONE tunnels for `main_internal`).
   */
  internal: boolean;
  raw: Obj;
}

const LISTENER_FIELDS = [
  'name', 'address', 'statPrefix', 'filterChains', 'useOriginalDst', 'defaultFilterChain', 'perConnectionBufferLimitBytes',
  'metadata', 'drainType', 'listenerFilters', 'listenerFiltersTimeout', 'continueOnListenerFiltersTimeout', 'transparent',
  'freebind', 'socketOptions', 'tcpFastOpenQueueLength', 'trafficDirection', 'bindToPort', 'enableReusePort', 'accessLog',
  'connectionBalanceConfig', 'deprecatedV1', 'maxConnectionsToAcceptPerSocketEvent', 'ignoreGlobalConnLimit',
  'enableMptcp', 'tcpBacklogSize', 'reusePort', 'internalListener',
];
const CHAIN_MATCH_FIELDS = ['destinationPort', 'prefixRanges', 'addressSuffix', 'suffixLen', 'directSourcePrefixRanges', 'sourceType', 'sourcePrefixRanges', 'sourcePorts', 'serverNames', 'transportProtocol', 'applicationProtocols'];

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function cidrs(v: unknown, path: string): Cidr[] {
  return asArray(v).map((r, i) => {
    const c = compileCidr(asString(r.addressPrefix), r.prefixLen === undefined ? undefined : wrapped(r.prefixLen));
    return c ?? reject(`${path}[${i}]`, `invalid CIDR ${asString(r.addressPrefix)}`);
  });
}

export interface ListenerCompileDeps {
  httpFilters: HttpFilterRegistry;
  networkFilters: NetworkFilterRegistry;
}

function compileChain(fc: Obj, path: string, deps: ListenerCompileDeps): FilterChainSpec {
  onlyFields(fc, path, ['filterChainMatch', 'filters', 'transportSocket', 'name', 'metadata', 'transportSocketConnectTimeout', 'useProxyProto', 'tlsContext']);
  if (fc.tlsContext !== undefined) reject(`${path}.tlsContext`, 'use transport_socket');
  const m = asObj(fc.filterChainMatch);
  onlyFields(m, `${path}.filterChainMatch`, CHAIN_MATCH_FIELDS);
  if (m.addressSuffix !== undefined) reject(`${path}.filterChainMatch.addressSuffix`, 'not supported');
  const match: FilterChainMatchSpec = {
    destinationPort: m.destinationPort === undefined ? undefined : wrapped(m.destinationPort),
    prefixRanges: cidrs(m.prefixRanges, `${path}.filterChainMatch.prefixRanges`),
    serverNames: ((m.serverNames as string[] | undefined) ?? []).map((s) => s.toLowerCase()),
    transportProtocol: typeof m.transportProtocol === 'string' && m.transportProtocol ? m.transportProtocol : undefined,
    applicationProtocols: (m.applicationProtocols as string[] | undefined) ?? [],
    sourcePrefixRanges: cidrs(m.sourcePrefixRanges, `${path}.filterChainMatch.sourcePrefixRanges`),
    directSourcePrefixRanges: cidrs(m.directSourcePrefixRanges, `${path}.filterChainMatch.directSourcePrefixRanges`),
    sourcePorts: asArray(m.sourcePorts).map((p) => asNumber(p)),
    sourceType: asString(m.sourceType, 'ANY') as FilterChainMatchSpec['sourceType'],
  };
  const networkFilters: NetworkFilter[] = [];
  let metadataExchange = false;
  let terminal: FilterChainSpec['terminal'] | undefined;
  const filters = asArray(fc.filters);
  filters.forEach((f, i) => {
    const p = `${path}.filters[${i}]`;
    onlyFields(f, p, ['name', 'typedConfig', 'configDiscovery']);
    const name = asString(f.name);
    const tc = asObj(f.typedConfig);
    let type = asString(tc['@type'] ?? tc.typeUrl);
    type = type ? messageNameOf(type) : '';
    if (terminal) reject(p, `filter ${name} after the terminal filter`);
    if (type === HCM) terminal = { kind: 'http', hcm: compileHcm(tc, `${p}.typedConfig`, deps.httpFilters) };
    else if (type === TCP_PROXY) terminal = { kind: 'tcp', tcp: compileTcpProxy(tc, `${p}.typedConfig`) };
    else if (isTcpMetadataExchange(name, type, asString(tc.typeUrl))) metadataExchange = true;
    else if (deps.networkFilters.isIgnored(type, name)) return;
    else {
      const factory = deps.networkFilters.factory(type);
      if (!factory) reject(`${p}.typedConfig`, `network filter ${name} (${type || 'no type'}) is not supported`);
      networkFilters.push(factory(name, tc, `${p}.typedConfig`));
    }
  });
  if (!terminal) reject(`${path}.filters`, 'needs a terminal filter (http_connection_manager or tcp_proxy)');
  return {
    name: asString(fc.name),
    key: JSON.stringify(fc),
    match,
    tls: compileTransportSocket(fc.transportSocket, `${path}.transportSocket`, 'downstream'),
    tlsHandshakeTimeoutMs: durationMs(fc.transportSocketConnectTimeout) ?? 0,
    networkFilters,
    terminal,
    metadataExchange,
  };
}

/**
 * The listener's config apart from its filter chains: when it changes, an update cannot be applied
 * chain by chain and every chain drains (Envoy drains the whole listener then).
 */
export function listenerShapeKey(l: ListenerSpec): string {
  const { filterChains: _chains, defaultFilterChain: _default, ...rest } = l.raw;
  return JSON.stringify(rest);
}

export function compileListener(l: Obj, deps: ListenerCompileDeps): ListenerSpec {
  const name = asString(l.name);
  const path = `Listener ${name}`;
  if (!name) reject(`${path}.name`, 'listener name is empty');
  onlyFields(l, path, LISTENER_FIELDS);
  const internal = l.internalListener !== undefined && l.internalListener !== null;
  const sa = asObj(asObj(l.address).socketAddress);
  if (internal) {
    const ia = asObj(asObj(l.address).envoyInternalAddress);
    if (l.address !== undefined && l.address !== null && Object.keys(ia).length === 0) reject(`${path}.address`, 'an internal listener has no address or an envoy_internal_address');
    if (asObj(l.internalListener).bufferSizeKb !== undefined) reject(`${path}.internalListener.bufferSizeKb`, 'not supported');
  } else if (Object.keys(sa).length === 0) reject(`${path}.address`, 'only socket addresses are supported');
  onlyFields(sa, `${path}.address.socketAddress`, ['address', 'portValue', 'protocol', 'ipv4Compat', 'resolverName']);
  if (sa.protocol === 'UDP') reject(`${path}.address.socketAddress.protocol`, 'UDP listeners are not supported');
  let sniff = false;
  let originalDstFilter = false;
  asArray(l.listenerFilters).forEach((lf, i) => {
    const n = asString(lf.name);
    const t = messageNameOf(asString(asObj(lf.typedConfig)['@type'] ?? asObj(lf.typedConfig).typeUrl));
    if (n.includes('tls_inspector') || n.includes('http_inspector') || t.includes('TlsInspector') || t.includes('HttpInspector')) sniff = true;
    else if (n.includes('original_dst') || t.includes('OriginalDst')) originalDstFilter = true;
    else if (n.startsWith('istio.') || n.includes('metadata_exchange')) return;
    else reject(`${path}.listenerFilters[${i}]`, `listener filter ${n} is not supported`);
  });
  const filterChains = asArray(l.filterChains).map((fc, i) => compileChain(fc, `${path}.filterChains[${i}]`, deps));
  const defaultChain = l.defaultFilterChain !== undefined ? compileChain(asObj(l.defaultFilterChain), `${path}.defaultFilterChain`, deps) : undefined;
  // a chain needs sniffing when it matches on transport or application protocol or SNI (without
  // inspectors a connection's transport is raw_buffer, as Envoy's default: that match needs none)
  if (!sniff && [...filterChains].some((c) => (c.match.transportProtocol && c.match.transportProtocol !== 'raw_buffer') || c.match.applicationProtocols.length > 0 || c.match.serverNames.length > 0)) {
    reject(`${path}.listenerFilters`, 'filter chains match on transport/application protocol or SNI but no tls_inspector/http_inspector is configured');
  }
  const deprecatedBind = asObj(l.deprecatedV1).bindToPort;
  const bindToPort = !internal && (wrappedBool(l.bindToPort) ?? wrappedBool(deprecatedBind) ?? true);
  return {
    name,
    address: asString(sa.address, '0.0.0.0'),
    port: Number(sa.portValue ?? 0),
    bindToPort,
    useOriginalDst: wrappedBool(l.useOriginalDst) === true,
    originalDstFilter,
    filterChains,
    defaultChain,
    sniff,
    direction: asString(l.trafficDirection, 'UNSPECIFIED') as ListenerSpec['direction'],
    internal,
    raw: l,
  };
}
