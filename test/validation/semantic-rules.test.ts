import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigResource } from '../../src/api/config-resource.ts';
import { ResourceValidator } from '../../src/control/config/validation/validate-resource.ts';

/**
 * Istio's semantic rules, case by case (facts from Istio's validation tests, re-expressed as
 * YAML-shaped specs). `warn`: true/false when the case asserts a warning, undefined otherwise.
 */
interface Case {
  name: string;
  kind: string;
  spec: Record<string, unknown>;
  valid: boolean;
  warn?: boolean;
  annotations?: Record<string, string>;
  /** metadata.name (default foo). */
  resourceName?: string;
}

const API: Record<string, string> = {
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  VirtualService: 'networking.istio.io/v1',
  DestinationRule: 'networking.istio.io/v1',
  Gateway: 'networking.istio.io/v1',
  ServiceEntry: 'networking.istio.io/v1',
  Sidecar: 'networking.istio.io/v1',
  WorkloadEntry: 'networking.istio.io/v1',
  WorkloadGroup: 'networking.istio.io/v1',
  AuthorizationPolicy: 'security.istio.io/v1',
  RequestAuthentication: 'security.istio.io/v1',
  PeerAuthentication: 'security.istio.io/v1',
  Telemetry: 'telemetry.istio.io/v1',
};

const route = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.baz' } }], ...extra }] });
const gw = (server: Record<string, unknown>): Record<string, unknown> => ({ servers: [{ hosts: ['foo.bar.com'], port: { number: 443, name: 'https', protocol: 'HTTPS' }, ...server }] });

const CASES: Case[] = [
  // VirtualService
  { name: 'sni based outbound_ domains on a gateway', kind: 'VirtualService', valid: true, spec: { hosts: ['outbound_.15010_._.istiod.istio-system.svc.cluster.local'], gateways: ['ns1/gateway'], tls: [{ match: [{ sniHosts: ['outbound_.15010_._.istiod.istio-system.svc.cluster.local'] }], route: [{ destination: { host: 'istio.istio-system.svc.cluster.local' } }] }] } },
  { name: 'destination without host', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: {} }] }] } },
  { name: 'delegate with no hosts', kind: 'VirtualService', valid: true, spec: { http: [{ route: [{ destination: { host: 'foo.baz' } }] }] } },
  { name: 'no routes at all', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'] } },
  { name: 'legacy FQDN gateway name warns', kind: 'VirtualService', valid: true, warn: true, spec: { ...route(), gateways: ['gateway.example.com'] } },
  { name: 'namespace/* gateway', kind: 'VirtualService', valid: false, spec: { ...route(), gateways: ['ns1/*'] } },
  { name: 'wildcard host bound to the mesh', kind: 'VirtualService', valid: false, spec: { hosts: ['*'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] } },
  { name: 'tcp rule without route', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], tcp: [{ match: [{ port: 999 }] }] } },
  { name: 'deprecated mirrorPercent warns', kind: 'VirtualService', valid: true, warn: true, spec: { hosts: ['foo.bar'], gateways: ['ns1/gateway'], http: [{ mirrorPercent: 5, route: [{ destination: { host: 'foo.baz' } }] }] } },
  { name: 'authority rewritten twice', kind: 'VirtualService', valid: false, spec: route({ headers: { request: { set: { ':authority': 'foo' } } }, rewrite: { authority: 'bar' } }) },
  { name: 'prefix then exact is not shadowed', kind: 'VirtualService', valid: true, warn: false, spec: route({ match: [{ uri: { prefix: '/' } }, { uri: { exact: '/' }, method: { exact: 'GET' } }] }) },
  { name: 'IP address as SNI host warns', kind: 'VirtualService', valid: true, warn: true, spec: { hosts: ['foo.bar'], tls: [{ match: [{ port: 999, sniHosts: ['1.1.1.1'] }], route: [{ destination: { host: 'foo.baz' } }] }] } },
  { name: 'empty prefix header match', kind: 'VirtualService', valid: false, spec: route({ match: [{ headers: { emptyprefix: { prefix: '' } } }] }) },
  { name: 'pseudo-header and token header names', kind: 'VirtualService', valid: true, spec: route({ match: [{ headers: { ':authority': { exact: 'a' }, 'funky!$#_': { exact: 'b' } } }] }) },
  { name: 'escaped % and command operators in header values', kind: 'VirtualService', valid: true, spec: route({ headers: { response: { set: { a: '100%%', b: '%HOSTNAME%', c: '%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%', d: '%DYNAMIC_METADATA(com.test.my_filter)%' } } } }) },
  { name: 'unescaped % in a header value', kind: 'VirtualService', valid: false, spec: route({ headers: { response: { add: { name: 'abcd%oijasodifj' } } } }) },
  { name: 'trailing % after an operator', kind: 'VirtualService', valid: false, spec: route({ headers: { response: { add: { name: '%START_TIME%%' } } } }) },
  { name: 'mirror and mirrors together', kind: 'VirtualService', valid: false, spec: route({ mirror: { host: 'foo.baz' }, mirrors: [{ destination: { host: 'foo.bar' } }] }) },
  { name: 'mirrors percentage above 100', kind: 'VirtualService', valid: false, spec: route({ mirrors: [{ destination: { host: 'foo.baz' }, percentage: { value: 101 } }] }) },
  { name: 'retries disabled', kind: 'VirtualService', valid: true, spec: route({ retries: { attempts: 0 } }) },
  { name: 'retryRemoteLocalities with attempts 0', kind: 'VirtualService', valid: false, spec: route({ retries: { attempts: 0, retryRemoteLocalities: false } }) },
  { name: 'retryOn with an HTTP status', kind: 'VirtualService', valid: true, spec: route({ retries: { attempts: 10, perTryTimeout: '2s', retryOn: '503,connect-failure' } }) },
  { name: 'retryOn with an unknown status', kind: 'VirtualService', valid: false, spec: route({ retries: { attempts: 10, retryOn: '600,connect-failure' } }) },
  { name: 'timeout below ms precision', kind: 'VirtualService', valid: false, spec: route({ retries: { attempts: 10, perTryTimeout: '2.000000001s' } }) },
  { name: 'direct response status 199', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], http: [{ directResponse: { status: 199 } }] } },
  { name: 'direct response with body', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ directResponse: { status: 200, body: { string: 'hello' } } }] } },
  { name: 'uriRegexRewrite and uri together', kind: 'VirtualService', valid: false, spec: route({ rewrite: { uri: '/a', uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } } }) },
  { name: 'invalid regex in uriRegexRewrite', kind: 'VirtualService', valid: false, spec: route({ rewrite: { uriRegexRewrite: { match: '[', rewrite: '[' } } }) },
  { name: 'redirect code 400', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], http: [{ redirect: { uri: 't', redirectCode: 400 } }] } },
  { name: 'destination port selector without number', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.bar', subset: 'shiny', port: {} } }] }] } },
  { name: 'weights all zero', kind: 'VirtualService', valid: false, spec: { hosts: ['foo.bar'], tcp: [{ route: [{ destination: { host: 'a.b' }, weight: 0 }, { destination: { host: 'c.d' }, weight: 0 }] }] } },
  // Gateway
  { name: 'IP server host', kind: 'Gateway', valid: true, spec: { servers: [{ hosts: ['1.1.1.1'], port: { number: 7, name: 'http', protocol: 'http' } }] } },
  { name: 'no TLS on HTTPS', kind: 'Gateway', valid: false, spec: { servers: [{ hosts: ['foo.bar.com'], port: { number: 443, name: 'https', protocol: 'https' } }] } },
  { name: 'unix bind with a port number', kind: 'Gateway', valid: false, spec: { servers: [{ hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' }, bind: 'unix://@foobar' }] } },
  { name: 'unix bind with port 0', kind: 'Gateway', valid: true, spec: { servers: [{ hosts: ['foo.bar.com'], port: { number: 0, name: 'http', protocol: 'http' }, bind: 'unix://@foobar' }] } },
  { name: 'httpsRedirect on an HTTPS server warns', kind: 'Gateway', valid: true, warn: true, spec: { servers: [{ hosts: ['bar.com'], port: { number: 80, name: 'https', protocol: 'https' }, tls: { httpsRedirect: true } }] } },
  { name: 'SDS credential and certificate files together', kind: 'Gateway', valid: false, spec: gw({ tls: { mode: 'SIMPLE', serverCertificate: 'a', privateKey: 'b', credentialName: 'sds' } }) },
  { name: 'SDS credential with a stray private key', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'SIMPLE', privateKey: 'b', credentialName: 'sds' } }) },
  { name: 'MUTUAL with tlsCertificates and CA', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'MUTUAL', caCertificates: 'ca', tlsCertificates: [{ serverCertificate: 'c', privateKey: 'k' }] } }) },
  { name: 'MUTUAL tlsCertificates without CA', kind: 'Gateway', valid: false, spec: gw({ tls: { mode: 'MUTUAL', tlsCertificates: [{ serverCertificate: 'c', privateKey: 'k' }, { serverCertificate: 'c2', privateKey: 'k2' }] } }) },
  // Istio's webhook only warns about a third certificate; the CRD schema (maxItems: 2) rejects it first.
  { name: 'three tlsCertificates (CRD maxItems 2)', kind: 'Gateway', valid: false, spec: gw({ tls: { mode: 'SIMPLE', tlsCertificates: [{ serverCertificate: 'a', privateKey: 'a' }, { serverCertificate: 'b', privateKey: 'b' }, { serverCertificate: 'c', privateKey: 'c' }] } }) },
  { name: 'credentialNames alone', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'MUTUAL', credentialNames: ['c1', 'c2'] } }) },
  { name: 'cipher suite with an operator', kind: 'Gateway', valid: true, warn: false, spec: gw({ tls: { mode: 'SIMPLE', credentialName: 'sds', cipherSuites: ['-ECDHE-ECDSA-AES128-SHA'] } }) },
  { name: 'unknown cipher suite warns', kind: 'Gateway', valid: true, warn: true, spec: gw({ tls: { mode: 'SIMPLE', credentialName: 'sds', cipherSuites: ['not-a-cipher-suite'] } }) },
  { name: 'CRL with SDS credential', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'SIMPLE', caCrl: 'crl', credentialName: 'credential' } }) },
  // DestinationRule
  { name: 'empty connection pool', kind: 'DestinationRule', valid: false, spec: { host: 'reviews', trafficPolicy: { connectionPool: {} } } },
  { name: 'tcp idle timeout 0s disables it', kind: 'DestinationRule', valid: true, spec: { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '0s' } } } } },
  { name: 'maglev table size not prime', kind: 'DestinationRule', valid: false, spec: { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { maglev: { tableSize: 1000 } } } } } },
  { name: 'insecureSkipVerify with CA in SIMPLE', kind: 'DestinationRule', valid: false, spec: { host: 'reviews', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: 'x', insecureSkipVerify: true } } } },
  { name: 'insecureSkipVerify with credential in MUTUAL', kind: 'DestinationRule', valid: true, spec: { host: 'reviews', trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'test', insecureSkipVerify: true } } } },
  { name: 'deprecated consecutiveErrors warns', kind: 'DestinationRule', valid: true, warn: true, spec: { host: 'reviews', trafficPolicy: { outlierDetection: { consecutiveErrors: 101 } } } },
  { name: 'local origin failures without split', kind: 'DestinationRule', valid: false, spec: { host: 'reviews', trafficPolicy: { outlierDetection: { consecutiveLocalOriginFailures: 10 } } } },
  { name: 'port level settings without port', kind: 'DestinationRule', valid: false, spec: { host: 'reviews', trafficPolicy: { portLevelSettings: [{ loadBalancer: { simple: 'ROUND_ROBIN' } }] } } },
  // ServiceEntry
  { name: 'unset protocol without addresses warns', kind: 'ServiceEntry', valid: true, warn: true, spec: { hosts: ['google.com'], ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }, { number: 8080, name: 'http-valid2' }], resolution: 'NONE' } },
  { name: 'selector with DNS resolution', kind: 'ServiceEntry', valid: true, warn: false, spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }], resolution: 'DNS' } },
  { name: 'selector with NONE resolution warns', kind: 'ServiceEntry', valid: true, warn: true, spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }] } },
  { name: 'multiple hosts with address and https port warn', kind: 'ServiceEntry', valid: true, warn: true, spec: { hosts: ['httpbin.org', 'wikipedia.org'], addresses: ['10.10.10.10'], ports: [{ number: 443, protocol: 'https', name: 'https' }], resolution: 'DNS' } },
  { name: 'wildcard host, DNS, no endpoints', kind: 'ServiceEntry', valid: false, spec: { hosts: ['*.google.com'], ports: [{ number: 80, protocol: 'http', name: 'http' }], resolution: 'DNS' } },
  { name: 'unix socket endpoint with several service ports', kind: 'ServiceEntry', valid: false, spec: { hosts: ['uds.cluster.local'], ports: [{ number: 6553, protocol: 'grpc', name: 'grpc' }, { number: 80, protocol: 'http', name: 'http' }], resolution: 'STATIC', endpoints: [{ address: 'unix:///path/to/socket' }] } },
  { name: 'endpoint with network and no address warns', kind: 'ServiceEntry', valid: true, warn: true, spec: { hosts: ['www.example.com'], ports: [{ number: 443, protocol: 'HTTPS', name: 'https-example' }], endpoints: [{ network: 'cluster-1' }], resolution: 'STATIC' } },
  // Sidecar
  { name: 'import nothing', kind: 'Sidecar', valid: true, warn: false, spec: { egress: [{ hosts: ['~/*'] }] } },
  { name: 'two catch-all egress listeners', kind: 'Sidecar', valid: false, spec: { egress: [{ hosts: ['*/foo.com'] }, { hosts: ['ns1/bar.com'] }] } },
  { name: 'duplicate egress host in the same namespace warns', kind: 'Sidecar', valid: true, warn: true, spec: { egress: [{ hosts: ['./*', 'bar/a.com'] }] } },
  { name: 'unix egress listener with IPTABLES capture', kind: 'Sidecar', valid: false, spec: { egress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///@foo/bar/com', captureMode: 'IPTABLES' }] } },
  { name: 'default endpoint on a non-loopback address', kind: 'Sidecar', valid: false, spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '1.1.1.1:90' }] } },
  { name: 'egress proxy without ALLOW_ANY', kind: 'Sidecar', valid: false, spec: { outboundTrafficPolicy: { egressProxy: { host: 'foo.bar', port: { number: 5000 } } }, egress: [{ hosts: ['*/*'] }] } },
  { name: 'ingress TLS credentialNames', kind: 'Sidecar', valid: false, spec: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999', tls: { mode: 'SIMPLE', credentialNames: ['secret-name'] } }] } },
  { name: 'HTTP pool on a TCP port warns', kind: 'Sidecar', valid: true, warn: true, spec: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, connectionPool: { http: { http1MaxPendingRequests: 1024 } } }] } },
  // Workloads
  { name: 'workload entry FQDN with a port suffix', kind: 'WorkloadEntry', valid: false, spec: { address: 'invaliddns.com:9443', ports: { '7777': 7777 } } },
  { name: 'workload entry with network only warns', kind: 'WorkloadEntry', valid: true, warn: true, spec: { network: 'network-2' } },
  { name: 'workload group bad labels', kind: 'WorkloadGroup', valid: false, spec: { template: {}, metadata: { labels: { '.': '~' } } } },
  { name: 'workload group exec probe without command', kind: 'WorkloadGroup', valid: false, spec: { template: {}, probe: { exec: {} } } },
  // Security
  { name: 'source without fields', kind: 'AuthorizationPolicy', valid: false, spec: { rules: [{ from: [{ source: {} }] }] } },
  { name: 'empty from list', kind: 'AuthorizationPolicy', valid: false, spec: { rules: [{ from: [] }] } },
  { name: 'unknown condition key', kind: 'AuthorizationPolicy', valid: false, spec: { rules: [{ when: [{ key: 'key1', values: ['v1'] }] }] } },
  { name: 'condition without values', kind: 'AuthorizationPolicy', valid: false, spec: { rules: [{ when: [{ key: 'source.principal' }] }] } },
  { name: 'request header condition', kind: 'AuthorizationPolicy', valid: true, spec: { rules: [{ when: [{ key: 'request.headers[:authority]', values: ['v1', 'v2'] }, { key: 'source.ip', values: ['1.2.3.4', '5.6.7.0/24'] }] }] } },
  { name: 'DENY on request principals only warns', kind: 'AuthorizationPolicy', valid: true, warn: true, spec: { action: 'DENY', selector: { matchLabels: { app: 'httpbin' } }, rules: [{ from: [{ source: { requestPrincipals: ['example.com/sub-1'] } }] }] } },
  { name: 'DENY with ports does not warn', kind: 'AuthorizationPolicy', valid: true, warn: false, spec: { action: 'DENY', rules: [{ from: [{ source: { principals: ['temp'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] }] } },
  { name: 'invalid dry-run value', kind: 'AuthorizationPolicy', valid: false, annotations: { 'istio.io/dry-run': 'foo' }, spec: {} },
  { name: 'dry-run on another kind', kind: 'RequestAuthentication', valid: false, annotations: { 'istio.io/dry-run': 'true' }, spec: {} },
  { name: 'selector with empty labels warns', kind: 'RequestAuthentication', valid: true, warn: true, spec: { selector: {} } },
  { name: 'jwks that is not JSON', kind: 'RequestAuthentication', valid: false, spec: { jwtRules: [{ issuer: 'foo.com', jwks: 'foo' }] } },
  { name: 'jwksUri with a bad port', kind: 'RequestAuthentication', valid: false, spec: { jwtRules: [{ issuer: 'foo.com', jwksUri: 'https://foo.com:not-a-number' }] } },
  { name: 'port level mTLS without selector', kind: 'PeerAuthentication', valid: false, spec: { portLevelMtls: { '8080': { mode: 'UNSET' } } } },
  { name: 'port level mTLS with selector', kind: 'PeerAuthentication', valid: true, spec: { selector: { matchLabels: { app: 'httpbin' } }, portLevelMtls: { '8080': { mode: 'UNSET' } } } },
  { name: 'sampling percentage above 100', kind: 'Telemetry', valid: false, spec: { tracing: [{ randomSamplingPercentage: 101 }] } },
  { name: 'multiple tracing providers warn', kind: 'Telemetry', valid: true, warn: true, spec: { tracing: [{ providers: [{ name: 'a' }, { name: 'b' }] }] } },
  { name: 'access log filter that does not parse', kind: 'Telemetry', valid: false, spec: { accessLogging: [{ filter: { expression: ')++++' } }] } },
  { name: 'access log filter in CEL', kind: 'Telemetry', valid: true, spec: { accessLogging: [{ filter: { expression: "connection.mtls && request.url_path.contains('v1beta3')" } }] } },
  // Accepted by Istio: the schema layer must not reject them either.
  { name: 'simple route', kind: 'VirtualService', valid: true, warn: false, spec: route() },
  { name: 'namespace/name gateway', kind: 'VirtualService', valid: true, spec: { ...route(), gateways: ['ns1/gateway'] } },
  { name: 'authority set on a destination', kind: 'VirtualService', valid: true, warn: false, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.baz' }, headers: { request: { set: { ':authority': 'foo' } } } }] }] } },
  { name: 'weighted destinations', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.baz.south' }, weight: 25 }, { destination: { host: 'foo.baz.east' }, weight: 75 }] }] } },
  { name: 'simple redirect', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ redirect: { uri: '/lerp', authority: 'foo.biz' } }] } },
  { name: 'redirect 308', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ redirect: { uri: 't', authority: 't', redirectCode: 308 } }] } },
  { name: 'header operations with empty values', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.baz' }, headers: { request: { add: { name: '' }, set: { name: '' }, remove: ['name'] }, response: { add: { name: '' }, set: { name: '' }, remove: ['name'] } } }] }] } },
  { name: 'fault abort without percentage', kind: 'VirtualService', valid: true, spec: route({ fault: { abort: { httpStatus: 200 } } }) },
  { name: 'fault abort with gRPC status', kind: 'VirtualService', valid: true, spec: route({ fault: { abort: { grpcStatus: 'DEADLINE_EXCEEDED', percentage: { value: 0.001 } } } }) },
  { name: 'fault delay', kind: 'VirtualService', valid: true, spec: route({ fault: { delay: { fixedDelay: '3s', percentage: { value: 20 } } } }) },
  { name: 'retries with attempts', kind: 'VirtualService', valid: true, spec: route({ retries: { attempts: 10, perTryTimeout: '2s', retryOn: '5xx,gateway-error' } }) },
  { name: 'rewrite of uri and authority', kind: 'VirtualService', valid: true, spec: route({ rewrite: { uri: '/path/to/resource', authority: 'foobar.org' } }) },
  { name: 'regex rewrite with authority', kind: 'VirtualService', valid: true, spec: route({ rewrite: { authority: 'foobar.org', uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } } }) },
  { name: 'direct response with bytes body', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ directResponse: { status: 200, body: { bytes: 'aGVsbG8=' } } }] } },
  { name: 'direct response body over 100kb warns', kind: 'VirtualService', valid: true, warn: true, spec: { hosts: ['foo.bar'], http: [{ directResponse: { status: 200, body: { string: 'a'.repeat(101 * 1024) } } }] } },
  { name: 'mirrors with percentages', kind: 'VirtualService', valid: true, spec: route({ mirrors: [{ destination: { host: 'foo.baz' }, percentage: { value: 1 } }, { destination: { host: 'foo.baz' }, percentage: { value: 50 } }] }) },
  { name: 'CORS policy', kind: 'VirtualService', valid: true, spec: route({ corsPolicy: { allowOrigins: [{ exact: 'exact' }, { prefix: 'prefix' }, { regex: 'regex' }], allowMethods: ['GET', 'POST'], allowHeaders: ['header1'], exposeHeaders: ['header3'], maxAge: '2s' } }) },
  { name: 'CORS maxAge below seconds', kind: 'VirtualService', valid: false, spec: route({ corsPolicy: { maxAge: '2.5s' } }) },
  { name: 'full destination', kind: 'VirtualService', valid: true, spec: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } }] }] } },
  { name: 'happy multiple servers', kind: 'Gateway', valid: true, spec: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }, { hosts: ['ns1/foo.bar.com', '*/foo.bar.com', './foo.bar.com'], port: { name: 'name2', number: 8, protocol: 'http' } }] } },
  { name: 'MUTUAL with files', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'MUTUAL', serverCertificate: 'a', privateKey: 'b', caCertificates: 'c' } }) },
  { name: 'ISTIO_MUTUAL without files', kind: 'Gateway', valid: true, spec: gw({ tls: { mode: 'ISTIO_MUTUAL' } }) },
  { name: 'bind IP', kind: 'Gateway', valid: true, spec: { servers: [{ hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' }, bind: '127.0.0.1' }] } },
  { name: 'traffic policy at both levels', kind: 'DestinationRule', valid: true, spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: { tcp: { maxConnections: 7, connectTimeout: '2s' }, http: { http2MaxRequests: 11, idleTimeout: '30s' } }, outlierDetection: { minHealthPercent: 20, interval: '2s', baseEjectionTime: '2s', maxEjectionPercent: 50 } }, subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { outlierDetection: { minHealthPercent: 30 } } }, { name: 'v2', labels: { version: 'v2' } }] } },
  { name: 'consistent hash with cookie and ring size', kind: 'DestinationRule', valid: true, warn: true, spec: { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, httpCookie: { name: 'test', ttl: '3600s' } } } } } },
  { name: 'client TLS SIMPLE with CA and SANs', kind: 'DestinationRule', valid: true, spec: { host: 'reviews', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: 'test', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: false } } } },
  { name: 'client TLS MUTUAL with files', kind: 'DestinationRule', valid: true, spec: { host: 'reviews', trafficPolicy: { tls: { mode: 'MUTUAL', caCertificates: 'test', privateKey: 'key', clientCertificate: 'cert' } } } },
  { name: 'DNS with FQDN endpoints', kind: 'ServiceEntry', valid: true, warn: false, spec: { hosts: ['*.google.com'], ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }, { number: 8080, protocol: 'http', name: 'http-valid2' }], endpoints: [{ address: 'lon.google.com', ports: { 'http-valid1': 8080 } }, { address: 'in.google.com', ports: { 'http-valid2': 9080 }, labels: { 'security.istio.io/tlsMode': 'istio' } }], resolution: 'DNS' } },
  { name: 'STATIC with CIDR addresses', kind: 'ServiceEntry', valid: true, warn: false, spec: { hosts: ['google.com'], addresses: ['172.1.2.16/16'], ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }], endpoints: [{ address: '1.1.1.1', ports: { 'http-valid1': 8080 } }], resolution: 'STATIC' } },
  { name: 'unix socket endpoint', kind: 'ServiceEntry', valid: true, spec: { hosts: ['uds.cluster.local'], ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }], resolution: 'STATIC', endpoints: [{ address: 'unix:///path/to/socket' }] } },
  { name: 'repeated target port', kind: 'ServiceEntry', valid: true, warn: false, spec: { hosts: ['google.com'], resolution: 'DNS', ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 80 }, { number: 81, protocol: 'http', name: 'http-valid2', targetPort: 80 }] } },
  { name: 'workload entry FQDN', kind: 'WorkloadEntry', valid: true, spec: { address: 'validdns.com', ports: { '7777': 7777 } } },
  { name: 'workload entry unix socket', kind: 'WorkloadEntry', valid: true, spec: { address: 'unix:///lon/google/com' } },
  { name: 'workload group http probe', kind: 'WorkloadGroup', valid: true, spec: { template: {}, probe: { httpGet: { port: 5 } } } },
  { name: 'workload group exec probe', kind: 'WorkloadGroup', valid: true, spec: { template: {}, probe: { exec: { command: ['foo', 'bar'] } } } },
  { name: 'egress port without name', kind: 'Sidecar', valid: true, spec: { egress: [{ port: { protocol: 'http', number: 8080 }, hosts: ['ns1/bar.com'] }] } },
  { name: 'unix egress listener', kind: 'Sidecar', valid: true, spec: { egress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///@foo/bar/com' }] } },
  { name: 'ingress with IPv6 default endpoint and empty protocol', kind: 'Sidecar', valid: true, spec: { ingress: [{ port: { number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }], egress: [{ hosts: ['*/*'] }] } },
  { name: 'egress proxy with ALLOW_ANY', kind: 'Sidecar', valid: true, spec: { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } }, egress: [{ hosts: ['*/*'] }] } },
  { name: 'inbound connection pool only', kind: 'Sidecar', valid: true, spec: { inboundConnectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } } } },
  { name: 'full allow policy', kind: 'AuthorizationPolicy', valid: true, warn: false, spec: { selector: { matchLabels: { app: 'httpbin', version: 'v1' } }, rules: [{ from: [{ source: { principals: ['sa1'] } }, { source: { principals: ['sa2'] } }], to: [{ operation: { methods: ['GET'] } }, { operation: { methods: ['POST'] } }], when: [{ key: 'source.ip', values: ['1.2.3.4', '5.6.7.0/24'] }] }] } },
  { name: 'dry-run DENY', kind: 'AuthorizationPolicy', valid: true, annotations: { 'istio.io/dry-run': 'false' }, spec: { action: 'DENY', rules: [{}] } },
  { name: 'selector with an empty label value', kind: 'AuthorizationPolicy', valid: true, spec: { selector: { matchLabels: { app: '', version: 'v1' } } } },
  { name: 'targetRefs to a Service', kind: 'AuthorizationPolicy', valid: true, warn: false, spec: { action: 'DENY', targetRefs: [{ group: '', kind: 'Service', name: 'foo' }], rules: [{ from: [{ source: { principals: ['temp'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET', 'DELETE'] } }] }] } },
  { name: 'JWT rule with header location and inline jwks', kind: 'RequestAuthentication', valid: true, spec: { jwtRules: [{ issuer: 'foo.com', jwks: '{ "keys":[ {"e":"AQAB","kid":"DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ","kty":"RSA","n":"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX"}]}', fromHeaders: [{ name: 'x-foo', prefix: 'Bearer ' }] }] } },
  { name: 'targetRef to a Gateway', kind: 'RequestAuthentication', valid: true, spec: { targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'foo' }, jwtRules: [{ issuer: 'foo.com', jwksUri: 'https://foo.com/cert' }] } },
  { name: 'mtls mode UNSET', kind: 'PeerAuthentication', valid: true, spec: { mtls: { mode: 'UNSET' } } },
  { name: 'several access logging providers', kind: 'Telemetry', valid: true, warn: false, spec: { accessLogging: [{ providers: [{ name: 'envoy' }, { name: 'otel' }] }, { providers: [{ name: 'otel' }] }] } },
  { name: 'custom tag and targetRef', kind: 'Telemetry', valid: true, spec: { tracing: [{ customTags: { clusterID: { environment: { name: 'FOO' } } } }], targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'foo' } } },
  // Kubernetes kinds: light checks.
  { name: 'mesh config that is not YAML', kind: 'ConfigMap', resourceName: 'istio', valid: false, spec: { data: { mesh: 'a: [1, 2' } } },
  { name: 'mesh config mapping', kind: 'ConfigMap', resourceName: 'istio', valid: true, spec: { data: { mesh: 'rootNamespace: istio-system\ntrustDomain: cluster.local\n' } } },
  { name: 'service with unnamed ports', kind: 'Service', valid: false, spec: { ports: [{ port: 80 }, { port: 81 }] } },
  { name: 'service with a named target port', kind: 'Service', valid: true, spec: { selector: { app: 'x' }, ports: [{ name: 'http', port: 80, targetPort: 'http-web' }] } },
  { name: 'deployment selector not matching its template', kind: 'Deployment', valid: false, spec: { selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } },
  { name: 'deployment', kind: 'Deployment', valid: true, spec: { replicas: 2, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a', version: 'v1' } }, spec: { containers: [{ name: 'c', command: ['node', 'server.js'], ports: [{ containerPort: 9080 }] }] } } } },
  { name: '~/ host on a Gateway generated from the Gateway API', kind: 'Gateway', valid: true, annotations: { 'internal.istio.io/gateway-semantics': 'gateway' }, spec: { servers: [{ hosts: ['~/foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] } },
];

describe('semantic validation rules', () => {
  const validator = new ResourceValidator();
  for (const c of CASES) {
    it(`${c.kind}: ${c.name} is ${c.valid ? 'valid' : 'invalid'}${c.warn === undefined ? '' : c.warn ? ' with a warning' : ' without warnings'}`, () => {
      const metadata = { name: c.resourceName ?? 'foo', namespace: 'bar', ...(c.annotations ? { annotations: c.annotations } : {}) };
      const apiVersion = API[c.kind];
      const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
      const r: ConfigResource = { apiVersion, kind: c.kind, group, version, metadata, spec: c.spec, raw: { apiVersion, kind: c.kind, metadata, spec: c.spec } };
      const res = validator.validate(r);
      assert.equal(res.errors.length === 0, c.valid, JSON.stringify(res.errors));
      if (c.warn !== undefined) assert.equal(res.warnings.length > 0, c.warn, JSON.stringify(res.warnings));
    });
  }
});
