import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { TrustDomains } from './authz-matchers.ts';
import { buildRbac } from './authz-rbac.ts';
import { uriTemplateRegex } from '../../lib/uri-template.ts';
import { EXT, socketAddress, typedFilter, type JsonObject } from './envoy-extensions.ts';
import { inboundPorts } from './inbound-ports.ts';

/**
 * Security for proxyless gRPC, as istiod's grpcgen generates it: xDS mTLS with the certificate
 * provider instance `default` of the client's bootstrap (gRFC A29; Istio's agent writes a
 * `file_watcher` provider over cert-chain.pem, key.pem and root-cert.pem), and server listeners
 * (gRFC A36) carrying RBAC from AuthorizationPolicy (gRFC A41).
 */

/** Istio's gRPC server listener names: `xds.istio.io/grpc/lds/inbound/IP:PORT` (server_listener_resource_name_template). */
export const GRPC_SERVER_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';
/** The certificate provider instance Istio's gRPC bootstrap defines. */
export const GRPC_CERT_PROVIDER = 'default';
/** gRPC reads the TLS transport socket only under this exact name. */
const TRANSPORT_SOCKET_NAME = EXT.tlsTransport.name;

/**
 * CommonTlsContext naming the bootstrap's certificate provider: the current fields
 * (`tls_certificate_provider_instance`, `ca_certificate_provider_instance`) and, as istiod still
 * sends for older clients (gRPC C-core before 1.66), the deprecated ones.
 */
export function grpcCommonTlsContext(sans: readonly string[]): JsonObject {
  const validation: JsonObject = { caCertificateProviderInstance: { instanceName: GRPC_CERT_PROVIDER, certificateName: 'ROOTCA' } };
  if (sans.length > 0) validation.matchSubjectAltNames = sans.map((exact) => ({ exact }));
  return {
    tlsCertificateProviderInstance: { instanceName: GRPC_CERT_PROVIDER, certificateName: 'default' },
    tlsCertificateCertificateProviderInstance: { instanceName: GRPC_CERT_PROVIDER, certificateName: 'default' },
    combinedValidationContext: {
      defaultValidationContext: validation,
      validationContextCertificateProviderInstance: { instanceName: GRPC_CERT_PROVIDER, certificateName: 'ROOTCA' },
    },
  };
}

/** Cluster transport socket for DestinationRule ISTIO_MUTUAL (istiod leaves gRPC clients plaintext otherwise). */
export function grpcUpstreamTls(sans: readonly string[]): JsonObject {
  return { transportSocket: { name: TRANSPORT_SOCKET_NAME, typedConfig: { '@type': EXT.tlsTransport.upstream, commonTlsContext: grpcCommonTlsContext(sans) } } };
}

/** Is this LDS name a gRPC server's listener? */
export function isGrpcServerListenerName(name: string): boolean {
  return name.startsWith(GRPC_SERVER_LISTENER_PREFIX);
}

/**
 * The server listener for `xds.istio.io/grpc/lds/inbound/HOST:PORT`, or undefined when the
 * proxy's workload serves no service on that port (istiod answers nothing then). One filter chain:
 * mTLS (client certificate required) when PeerAuthentication says STRICT, or PERMISSIVE on a
 * workload labelled `security.istio.io/tlsMode: istio` (auto-mTLS clients will use mTLS, and gRPC
 * servers cannot serve both on one port); plaintext otherwise.
 */
export function grpcServerListener(proxy: ProxyInfo, push: PushContext, name: string): JsonObject | undefined {
  const address = name.slice(GRPC_SERVER_LISTENER_PREFIX.length);
  const colon = address.lastIndexOf(':');
  if (colon < 0) return undefined;
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  if (!inboundPorts(proxy, push).some((p) => p.port === port)) return undefined;
  const mtls = push.mtlsFor(proxy);
  let mode = mtls.ports.get(port) ?? mtls.mode;
  if (mode === 'PERMISSIVE' && proxy.labels['security.istio.io/tlsMode'] === 'istio') mode = 'STRICT';
  const strict = mode === 'STRICT';
  const suffix = strict ? 'mtls' : 'plaintext';
  const chain: JsonObject = {
    name: `inbound-${suffix}`,
    filters: [{ name: `inbound-hcm${suffix}`, typedConfig: serverHcm(proxy, push) }],
  };
  if (strict) {
    chain.transportSocket = {
      name: TRANSPORT_SOCKET_NAME,
      typedConfig: { '@type': EXT.tlsTransport.downstream, commonTlsContext: grpcCommonTlsContext([]), requireClientCertificate: true },
    };
  }
  return { name, address: socketAddress(host, port), filterChains: [chain] };
}

/** Inline route config answering every call on the server (NonForwardingAction), RBAC DENY then ALLOW, router. */
function serverHcm(proxy: ProxyInfo, push: PushContext): JsonObject {
  const trust: TrustDomains = { domain: push.mesh.trustDomain, aliases: push.mesh.trustDomainAliases ?? [] };
  const rbac = buildRbac(push.authorizationPoliciesFor(proxy), false, trust);
  const filters: JsonObject[] = [];
  // gRPC takes ALLOW and DENY only; each engine is its own filter, named as istiod names them.
  // CUSTOM (gRPC has no ext_authz filter) comes as DENY rules for what it selects (fail closed); AUDIT
  // never denies and dry-run (shadow) rules are not enforced, so neither goes to gRPC.
  rbac.custom.forEach((f, i) => {
    const c = enforcedOnly(f);
    if (c) filters.push({ ...forGrpc(c), name: `${EXT.httpRbac.name}.CUSTOM${i}` });
  });
  const deny = enforcedOnly(rbac.deny);
  if (deny) filters.push({ ...forGrpc(deny), name: `${EXT.httpRbac.name}.DENY` });
  const allow = enforcedOnly(rbac.allow);
  if (allow) filters.push(forGrpc(allow));
  filters.push(typedFilter(EXT.router));
  return {
    '@type': EXT.httpConnectionManager.type,
    statPrefix: 'inbound',
    routeConfig: { name: 'inbound', virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '/' }, nonForwardingAction: {} }] }] },
    httpFilters: filters,
  };
}

/** What gRPC's RBAC parses: legacy header matchers, and path templates as the url_path regex they stand for. */
function forGrpc(f: JsonObject): JsonObject {
  return legacyHeaderMatchers(pathTemplatesAsRegex(f));
}

/** gRPC has no uri_template permission: the same match as `url_path.safe_regex` (RE2). */
function pathTemplatesAsRegex<T>(value: T): T {
  if (Array.isArray(value)) return value.map(pathTemplatesAsRegex) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    if (k === 'uriTemplate') {
      const t = uriTemplateRegex(String(((v as JsonObject).typedConfig as JsonObject).pathTemplate));
      // validation refuses templates Envoy cannot parse; should one get here, it matches nothing
      out.urlPath = { path: { safeRegex: { regex: 'regex' in t ? t.regex : '[^\\s\\S]' } } };
    } else out[k] = pathTemplatesAsRegex(v);
  }
  return out as T;
}

/** An RBAC filter without its dry-run shadow rules; undefined when nothing is enforced. */
function enforcedOnly(f: JsonObject | undefined): JsonObject | undefined {
  if (!f) return undefined;
  const { shadowRules: _shadow, shadowRulesStatPrefix: _prefix, ...config } = f.typedConfig as JsonObject;
  return config.rules ? { ...f, typedConfig: config } : undefined;
}

/**
 * Header matchers in the oneof forms every gRPC accepts (`exact_match`, `prefix_match`, ...):
 * gRPC C-core before 1.52 rejects `string_match` ("invalid route header matcher specified").
 * Case-insensitive matches become an RE2 `(?i)` regex.
 */
export function legacyHeaderMatchers<T>(value: T): T {
  if (Array.isArray(value)) return value.map(legacyHeaderMatchers) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value as JsonObject)) out[k] = k === 'header' ? legacyHeader(v as JsonObject) : legacyHeaderMatchers(v);
  return out as T;
}

function legacyHeader(h: JsonObject): JsonObject {
  const sm = h.stringMatch as JsonObject | undefined;
  if (!sm) return h;
  const { stringMatch: _sm, ...rest } = h;
  const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (sm.ignoreCase === true) {
    const body = sm.exact !== undefined ? quote(String(sm.exact)) : sm.prefix !== undefined ? `${quote(String(sm.prefix))}.*` : sm.suffix !== undefined ? `.*${quote(String(sm.suffix))}` : sm.contains !== undefined ? `.*${quote(String(sm.contains))}.*` : undefined;
    if (body !== undefined) return { ...rest, safeRegexMatch: { regex: `(?i)${body}` } };
  }
  if (sm.exact !== undefined) return { ...rest, exactMatch: sm.exact };
  if (sm.prefix !== undefined) return { ...rest, prefixMatch: sm.prefix };
  if (sm.suffix !== undefined) return { ...rest, suffixMatch: sm.suffix };
  if (sm.contains !== undefined) return { ...rest, containsMatch: sm.contains };
  if (sm.safeRegex !== undefined) return { ...rest, safeRegexMatch: sm.safeRegex };
  return h;
}
