import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';

/**
 * Envoy's v3 API as protobufjs types. The .proto files ship inside @grpc/grpc-js-xds (deps/);
 * one Root holds every message we encode or decode, including the typed extensions that
 * travel inside `Any` (HttpConnectionManager, Router, RBAC, TLS contexts, ...).
 */
export const ENVOY_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/grpc_stats/v3/config.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/path/match/uri_template/v3/uri_template_match.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/network/ext_authz/v3/ext_authz.proto',
  // the ext_authz filters' Authorization/Check calls (CheckRequest/CheckResponse)
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/transport_sockets/proxy_protocol/v3/upstream_proxy_protocol.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  // TypedStruct carries extension configs Envoy's API does not define (Istio's peer_metadata, stats)
  'udpa/type/v1/typed_struct.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/filters/cel/v3/cel.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'xds/type/v3/typed_struct.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/admin/v3/config_dump.proto',
];

/** Istio's name table (NDS) for sidecar DNS proxies; the proxy loads it on its own when DNS capture is on. */
export const NDS_PROTO_FILE = join(dirname(fileURLToPath(import.meta.url)), 'proto', 'nds.proto');

/**
 * Istio's own extension configs that istiod sends as typed `Any`s (not TypedStruct), by absolute
 * path: the `istio.alpn` filter, and the NDS name table. Discovery encodes them; the proxy's pruned Root leaves them out.
 */
export const ISTIO_PROTO_FILES: readonly string[] = [join(dirname(fileURLToPath(import.meta.url)), 'proto', 'istio-alpn.proto'), NDS_PROTO_FILE];

function depsDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@grpc/grpc-js-xds/package.json');
  return join(dirname(pkg), 'deps');
}

/** Include roots for Envoy's protos and their imports (xds, udpa, validate, google.api). */
export function envoyIncludeDirs(): string[] {
  const deps = depsDir();
  const require = createRequire(import.meta.url);
  const protobufDir = dirname(require.resolve('protobufjs/package.json'));
  return [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)), protobufDir];
}

/** Load Envoy's API (plus any extra .proto files given by absolute path) into a fresh Root. */
export function loadEnvoyRoot(extraFiles: readonly string[] = []): protobuf.Root {
  const includes = envoyIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string => {
    if (target.startsWith('/') && existsSync(target)) return target;
    for (const dir of includes) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // google/protobuf/*.proto are bundled with protobufjs; let it resolve them itself.
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync([...ENVOY_PROTO_FILES, ...ISTIO_PROTO_FILES, ...extraFiles], { keepCase: false });
  root.resolveAll();
  return root;
}
