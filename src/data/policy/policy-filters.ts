import type protobuf from 'protobufjs';
import type { HttpFilterRegistry } from '../l7/http-filter.ts';
import { Http2UpstreamPool } from '../l7/http2-upstream-pool.ts';
import type { NetworkFilterRegistry } from '../listener/network-filter.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { ExtAuthzClient } from './ext-authz-check.ts';
import { compileHttpExtAuthz, compileNetworkExtAuthz, HTTP_EXT_AUTHZ_TYPE, NETWORK_EXT_AUTHZ_TYPE, type ExtAuthzConfig } from './ext-authz-config.ts';
import { createHttpExtAuthzFilter, createNetworkExtAuthzFilter } from './ext-authz-filter.ts';
import { authTypes, GrpcExtAuthzClient, type AuthTypes } from './ext-authz-grpc-client.ts';
import { HttpExtAuthzClient } from './ext-authz-http-client.ts';
import { JwksCache } from './jwks-cache.ts';
import { createJwtAuthnFilter, JWT_AUTHN_TYPE } from './jwt-authn-filter.ts';
import { createHttpRbacFilter, createNetworkRbacFilter, HTTP_RBAC_TYPE, NETWORK_RBAC_TYPE } from './rbac-filter.ts';

export interface PolicyFilterOptions {
  /** Shared across config pushes so remote JWKS are not refetched. */
  jwks?: JwksCache;
  now?: () => number;
  /** ext_authz: the proxy's clusters (authorization services are reached through them) and Envoy types. */
  clusters?: ClusterManager;
  root?: protobuf.Root;
}

export interface PolicyFilters {
  jwks: JwksCache;
  /** Close the ext_authz gRPC sessions. */
  close(): void;
}

/**
 * Register the RBAC (HTTP and network), jwt_authn and ext_authz (HTTP and network) filter
 * factories with a proxy's registries. ext_authz needs the cluster manager and the Envoy root;
 * without them its configs are rejected (NACK) rather than silently skipped.
 */
export function registerPolicyFilters(http: HttpFilterRegistry, network: NetworkFilterRegistry, opts: PolicyFilterOptions = {}): PolicyFilters {
  const jwks = opts.jwks ?? new JwksCache();
  http.register(HTTP_RBAC_TYPE, createHttpRbacFilter);
  http.register(JWT_AUTHN_TYPE, (name, config, path) => createJwtAuthnFilter(name, config, path, { jwks, now: opts.now }));
  network.register(NETWORK_RBAC_TYPE, createNetworkRbacFilter);
  const clusters = opts.clusters;
  const root = opts.root;
  if (!clusters || !root) return { jwks, close: () => undefined };
  const pool = new Http2UpstreamPool();
  let types: AuthTypes | undefined;
  const client = (cfg: ExtAuthzConfig): ExtAuthzClient => {
    if (cfg.service.kind === 'http') return new HttpExtAuthzClient(cfg, clusters);
    types ??= authTypes(root);
    return new GrpcExtAuthzClient(cfg, clusters, pool, types);
  };
  http.register(HTTP_EXT_AUTHZ_TYPE, (name, config, path) => {
    const cfg = compileHttpExtAuthz(config, path);
    return createHttpExtAuthzFilter(name, cfg, client(cfg), path);
  });
  network.register(NETWORK_EXT_AUTHZ_TYPE, (name, config, path) => {
    const cfg = compileNetworkExtAuthz(config, path);
    return createNetworkExtAuthzFilter(name, cfg, client(cfg));
  });
  return { jwks, close: () => pool.close() };
}
