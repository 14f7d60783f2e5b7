/** Tokens the mutator splices into inputs, per protocol. */
export const HTTP1_DICTIONARY: readonly string[] = [
  'GET ', 'POST ', 'CONNECT ', 'OPTIONS ', 'PRI * HTTP/2.0', ' HTTP/1.1\r\n', ' HTTP/1.0\r\n', '\r\n', '\r\n\r\n', '\n', '\r', ': ',
  'host: ', 'Host:', 'content-length: ', 'Content-Length: 0', 'transfer-encoding: chunked', 'Transfer-Encoding: gzip, chunked',
  'connection: close', 'connection: keep-alive', 'upgrade: websocket', 'expect: 100-continue', 'te: trailers',
  '0\r\n\r\n', '5\r\nhello\r\n', 'ffffffffffffffff\r\n', '1;ext=1\r\n', ' \t', 'http://', 'https://a@b/', '/%2e%2e/', '/../', '//',
  '%00', '%2F', '%5C', '?', '#', '*', ':authority', 'x-forwarded-for: ', 'x-envoy-', 'cookie: a=b', '\x00', '\x7f', '\xff',
];

export const HTTP2_DICTIONARY: readonly string[] = [
  ':method', ':path', ':authority', ':scheme', ':status', ':protocol', 'GET', 'POST', 'CONNECT', 'http', 'https', '/', '*',
  'content-length', 'transfer-encoding', 'connection', 'te', 'trailers', 'host', 'upgrade', 'keep-alive', 'x-envoy-original-path',
  'grpc-timeout', 'content-type', 'application/grpc', '100', '0', '-1', '\x00', '\r\n', ' ', 'A', '%2e%2e', '/../', '//',
];

export const YAML_DICTIONARY: readonly string[] = [
  'apiVersion: ', 'kind: ', 'metadata:', 'name: ', 'namespace: ', 'spec:', '---\n', '- ', ': ', '{', '}', '[', ']', '&a ', '*a', '<<: *a', '!!binary ',
  '"', "'", '|\n', '>-\n', '\t', '  ', '\n', 'null', '~', 'true', '1e999', '0x1F', '.inf', '-.nan', '? ',
  'networking.istio.io/v1', 'security.istio.io/v1', 'telemetry.istio.io/v1', 'VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry',
  'Sidecar', 'AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'Telemetry', 'WorkloadEntry', 'EnvoyFilter',
  'hosts:', 'http:', 'route:', 'destination:', 'host: ', 'subset: ', 'weight: ', 'match:', 'uri:', 'prefix: ', 'regex: ', 'exact: ',
  'headers:', 'timeout: ', 'retries:', 'fault:', 'delay:', 'abort:', 'percentage:', 'value: ', 'mirror:', 'corsPolicy:', 'rewrite:',
  'trafficPolicy:', 'tls:', 'mode: ', 'ISTIO_MUTUAL', 'STRICT', 'connectionPool:', 'outlierDetection:', 'loadBalancer:', 'consistentHash:',
  'rules:', 'from:', 'to:', 'when:', 'source:', 'operation:', 'principals:', 'paths:', 'methods:', 'action: ', 'DENY', 'CUSTOM', 'selector:',
  'matchLabels:', 'jwtRules:', 'issuer: ', 'jwksUri: ', 'ports:', 'number: ', 'protocol: ', 'HTTP', 'TCP', 'GRPC', 'TLS', 'servers:',
  'port:', 'portLevelMtls:', 'subsets:', 'labels:', 'exportTo:', 'gateways:', 'workloadSelector:', 'egress:', 'ingress:', 'resolution: ',
  'endpoints:', 'address: ', 'location: ', 'MESH_EXTERNAL', 'DNS', 'STATIC', '10.0.0.1/8', '::1', '*.example.com', 'mesh', '1h', '0s', '-1s',
];
