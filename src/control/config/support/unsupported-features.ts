/**
 * What Mizzen accepts in Istio's API but does not implement, as one table. `mizzen validate` and
 * `mizzen apply`/`up` refuse the `refuse` rows (security policy: fail closed, never allow by
 * omission) and warn about the `warn` rows (traffic management: the rest of the resource works);
 * discovery stores both, logs them and lists them in /debug/configz, and where a `refuse` row
 * still reaches a proxy the generators fail closed as `ifServed` says.
 *
 * When a feature gets implemented, delete its row (and its fail-closed code in the generator);
 * test/config/unsupported-features.test.ts checks every row against its example.
 */
export interface UnsupportedFeature {
  kind: string;
  /** API group of the kind when it is not one of Istio's (the Gateway API's). */
  group?: string;
  level: 'refuse' | 'warn';
  /** Field patterns (see field-pattern.ts); the row applies where one is set and `when` holds. */
  fields: readonly string[];
  when?: (value: unknown) => boolean;
  /** What is not implemented, as the message starts. */
  what: string;
  /** What discovery does with it anyway (refuse rows: how it fails closed). */
  ifServed: string;
  /** A spec that uses the feature (tests). */
  example: Record<string, unknown>;
}

const TRAFFIC_POLICIES = ['spec.trafficPolicy', 'spec.trafficPolicy.portLevelSettings[*]', 'spec.subsets[*].trafficPolicy', 'spec.subsets[*].trafficPolicy.portLevelSettings[*]'];
const under = (bases: readonly string[], field: string): string[] => bases.map((b) => `${b}.${field}`);

export const UNSUPPORTED_FEATURES: readonly UnsupportedFeature[] = [
  // --- security policy: refused, fail closed ---
  {
    kind: 'Gateway',
    level: 'refuse',
    fields: ['spec.servers[*].tls.verifyCertificateSpki', 'spec.servers[*].tls.verifyCertificateHash'],
    when: (v) => Array.isArray(v) && v.length > 0,
    what: 'client certificate pinning (verifyCertificateSpki/verifyCertificateHash) is not implemented',
    ifServed: 'the server gets no listener chain: its port refuses connections',
    example: { servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'MUTUAL', credentialName: 'c', verifyCertificateSpki: ['abc='] } }] },
  },
  // --- not policy: warned about, the rest of the resource works ---
  {
    kind: 'AuthorizationPolicy',
    level: 'warn',
    fields: ['spec.action'],
    when: (v) => v === 'AUDIT',
    what: 'action AUDIT marks the requests it matches (Envoy RBAC LOG: dynamic metadata envoy.common access_log_hint, printed by access logs with %DYNAMIC_METADATA(envoy.common:access_log_hint)%) but no separate audit log is written: Mizzen has no audit provider (Istio: Stackdriver)',
    ifServed: 'it never allows or denies anything',
    example: { action: 'AUDIT', rules: [{}] },
  },
  {
    kind: 'Telemetry',
    level: 'warn',
    fields: ['spec.metrics[*].reportingInterval'],
    what: 'metrics reportingInterval is not implemented: TCP metrics are reported when connections close',
    ifServed: 'the interval is ignored',
    example: { metrics: [{ providers: [{ name: 'prometheus' }], reportingInterval: '10s' }] },
  },
  {
    kind: 'Telemetry',
    level: 'warn',
    fields: ['spec.tracing[*].disableContextPropagation', 'spec.tracing[*].customTags{*}.formatter'],
    what: 'disableContextPropagation and formatter custom tags are sent by istiod to Istio 1.29/1.30 proxies only; Mizzen\'s proxies report 1.24',
    ifServed: 'context is propagated and formatter tags are not set, as istiod does for such proxies',
    example: { tracing: [{ providers: [{ name: 'zipkin' }], disableContextPropagation: true }] },
  },
  {
    kind: 'Telemetry',
    level: 'warn',
    fields: ['spec.tracing[*].useRequestIdForTraceSampling'],
    when: (v) => v === false,
    what: 'useRequestIdForTraceSampling: false is not implemented: sampling always uses the request id',
    ifServed: 'the request id decides sampling',
    example: { tracing: [{ providers: [{ name: 'zipkin' }], useRequestIdForTraceSampling: false }] },
  },
  {
    kind: 'Telemetry',
    level: 'warn',
    fields: ['spec.targetRefs[*].kind', 'spec.targetRef.kind'],
    when: (v) => v !== 'Gateway',
    what: 'targetRefs to a Service or ServiceEntry (telemetry of a waypoint for that service) are not implemented',
    ifServed: 'the Telemetry applies to no workload',
    example: { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }], tracing: [{ randomSamplingPercentage: 10 }] },
  },
  {
    kind: 'Sidecar',
    level: 'warn',
    fields: ['spec.ingress[*].tls', 'spec.outboundTrafficPolicy.egressProxy'],
    what: 'Sidecar ingress tls applies only when discovery runs with ENABLE_TLS_ON_SIDECAR_INGRESS=true and the port\'s mesh mTLS is DISABLE (as istiod, whose flag is off by default); outboundTrafficPolicy.egressProxy is not implemented',
    ifServed: 'without the flag the ingress port is served in plaintext or mesh mTLS; unmatched outbound traffic is not sent to the egress proxy',
    example: { ingress: [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, tls: { mode: 'SIMPLE', serverCertificate: '/etc/istio/ingress/tls.crt', privateKey: '/etc/istio/ingress/tls.key' }, defaultEndpoint: '127.0.0.1:8080' }] },
  },
  {
    kind: 'Sidecar',
    level: 'warn',
    fields: ['spec.egress[*].bind', 'spec.egress[*].captureMode'],
    what: 'Sidecar egress listeners\' bind and captureMode (an outbound listener of their own, bound or on another address) are not implemented',
    ifServed: 'the egress listener only selects which hosts the sidecar sees; its port is served from captured traffic',
    example: { egress: [{ port: { number: 8080, protocol: 'HTTP', name: 'http' }, bind: '127.0.0.1', captureMode: 'NONE', hosts: ['./*'] }] },
  },
  {
    kind: 'Sidecar',
    level: 'warn',
    fields: ['spec.ingress[*].defaultEndpoint'],
    when: (v) => typeof v === 'string' && v.startsWith('unix://'),
    what: 'Sidecar ingress defaultEndpoint on a Unix domain socket is not implemented',
    ifServed: 'traffic goes to the original destination (the workload port on the pod IP)',
    example: { ingress: [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint: 'unix:///var/run/app.sock' }] },
  },
  {
    kind: 'Gateway',
    level: 'warn',
    fields: ['spec.servers[*].tls.cipherSuites', 'spec.servers[*].tls.credentialNames', 'spec.servers[*].tls.caCertCredentialName'],
    what: 'cipherSuites, credentialNames and caCertCredentialName are not implemented (OpenSSL defaults; one credentialName and its NAME-cacert)',
    ifServed: 'these fields are ignored',
    example: { servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384'] } }] },
  },
  {
    kind: 'DestinationRule',
    level: 'warn',
    fields: [...under(TRAFFIC_POLICIES.filter((b) => b.endsWith('portLevelSettings[*]')), 'tunnel'), ...under(TRAFFIC_POLICIES, 'retryBudget.budgetInterval')],
    what: 'a port-level tunnel (istiod reads the rule\'s and the subset\'s only) and retryBudget.budgetInterval (istiod does not translate it either) are not implemented',
    ifServed: 'these fields are ignored',
    example: { host: 'reviews', trafficPolicy: { retryBudget: { percent: 10, budgetInterval: '10s' } } },
  },
  {
    kind: 'DestinationRule',
    level: 'warn',
    fields: under(TRAFFIC_POLICIES, 'connectionPool.http.h2UpgradePolicy'),
    when: (v) => v === 'UPGRADE',
    what: 'h2UpgradePolicy UPGRADE reaches HTTP/2 clients\' requests only: requests from HTTP/1.1 clients still go upstream over HTTP/1.1 (the cluster is generated with HTTP/2 options as istiod does)',
    ifServed: 'HTTP/1.1 clients are not upgraded',
    example: { host: 'reviews', trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } } },
  },
  {
    kind: 'VirtualService',
    level: 'warn',
    fields: [
      'spec.http[*].redirect.derivePort', 'spec.http[*].fault.abort.http2Error', 'spec.http[*].retries.retryRemoteLocalities',
      'spec.http[*].retries.retryIgnorePreviousHosts', 'spec.tcp[*].match[*].destinationSubnets', 'spec.tcp[*].match[*].sourceSubnet',
      'spec.tls[*].match[*].destinationSubnets',
    ],
    what: 'redirect derivePort, fault abort http2Error, retryRemoteLocalities, retryIgnorePreviousHosts and the destinationSubnets/sourceSubnet matches are not implemented',
    ifServed: 'these fields are ignored (a match on them matches regardless of the subnet)',
    example: { hosts: ['db'], tcp: [{ match: [{ destinationSubnets: ['10.0.0.0/8'] }], route: [{ destination: { host: 'db' } }] }] },
  },
  {
    kind: 'HTTPRoute',
    group: 'gateway.networking.k8s.io',
    level: 'warn',
    fields: ['spec.rules[*].filters[*].type', 'spec.rules[*].backendRefs[*].filters[*].type'],
    when: (v) => v === 'ExtensionRef',
    what: 'ExtensionRef filters are not implemented',
    ifServed: 'the rule answers 500, as the Gateway API requires for a filter the implementation cannot apply',
    example: { parentRefs: [{ name: 'gw' }], rules: [{ filters: [{ type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Filter', name: 'f' } }] }] },
  },
  {
    kind: 'Gateway',
    group: 'gateway.networking.k8s.io',
    level: 'warn',
    fields: ['spec.addresses', 'spec.infrastructure'],
    what: 'static addresses and infrastructure customization are not implemented (a local mesh gives the gateway a Service address of its own)',
    ifServed: 'these fields are ignored',
    example: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], addresses: [{ type: 'IPAddress', value: '10.0.0.1' }] },
  },
];
