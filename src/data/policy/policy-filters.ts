import type { HttpFilterRegistry } from '../l7/http-filter.ts';
import type { NetworkFilterRegistry } from '../listener/network-filter.ts';
import { JwksCache } from './jwks-cache.ts';
import { createJwtAuthnFilter, JWT_AUTHN_TYPE } from './jwt-authn-filter.ts';
import { createHttpRbacFilter, createNetworkRbacFilter, HTTP_RBAC_TYPE, NETWORK_RBAC_TYPE } from './rbac-filter.ts';

export interface PolicyFilterOptions {
  /** Shared across config pushes so remote JWKS are not refetched. */
  jwks?: JwksCache;
  now?: () => number;
}

/** Register the RBAC (HTTP and network) and jwt_authn filter factories with a proxy's registries. */
export function registerPolicyFilters(http: HttpFilterRegistry, network: NetworkFilterRegistry, opts: PolicyFilterOptions = {}): JwksCache {
  const jwks = opts.jwks ?? new JwksCache();
  http.register(HTTP_RBAC_TYPE, createHttpRbacFilter);
  http.register(JWT_AUTHN_TYPE, (name, config, path) => createJwtAuthnFilter(name, config, path, { jwks, now: opts.now }));
  network.register(NETWORK_RBAC_TYPE, createNetworkRbacFilter);
  return jwks;
}
