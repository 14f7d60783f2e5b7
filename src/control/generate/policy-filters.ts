import type { ConfigResource } from '../../api/config-resource.ts';
import type { AuthorizationPolicySpec } from '../../api/istio/authorization-policy.ts';
import type { RequestAuthenticationSpec } from '../../api/istio/request-authentication.ts';
import type { PushContext } from '../push/push-context.ts';
import type { ProxyInfo } from '../xds/proxy-info.ts';
import type { TrustDomains } from './authz-matchers.ts';
import { buildRbac, rbacFilterList } from './authz-rbac.ts';
import type { JsonObject } from './envoy-extensions.ts';
import { resolveExtAuthzProviders } from './ext-authz-providers.ts';
import { buildJwtAuthn } from './jwt-authn.ts';

/**
 * The authentication and authorization filters of a workload's (sidecar inbound) or gateway's
 * listeners, as istiod builds them: HTTP chains run CUSTOM (RBAC shadow rules + ext_authz per
 * extension provider), jwt_authn, then AUDIT, DENY and ALLOW RBAC; TCP chains run CUSTOM (gRPC
 * providers) and the network RBAC filters.
 */
export interface PolicyFilters {
  http: JsonObject[];
  tcp: JsonObject[];
}

export function policyFiltersFor(proxy: ProxyInfo, push: PushContext): PolicyFilters {
  return policyFiltersOf(push, push.authorizationPoliciesFor(proxy), push.requestAuthenticationsFor(proxy));
}

/** The same filters for given policies (a waypoint's: those attached by targetRefs). */
export function policyFiltersOf(push: PushContext, policies: readonly ConfigResource<AuthorizationPolicySpec>[], requestAuthentications: readonly ConfigResource<RequestAuthenticationSpec>[]): PolicyFilters {
  const jwt = buildJwtAuthn([...requestAuthentications]);
  const trust: TrustDomains = { domain: push.mesh.trustDomain, aliases: push.mesh.trustDomainAliases ?? [] };
  const extAuthz = push.cached('ext-authz-providers', () => resolveExtAuthzProviders(push.mesh.extensionProviders, (host) => push.registry.servicesByHost(host)));
  const http = buildRbac(policies, false, trust, extAuthz);
  const tcp = buildRbac(policies, true, trust, extAuthz);
  return {
    http: [...http.custom, ...(jwt ? [jwt] : []), ...rbacFilterList(http)],
    tcp: [...tcp.custom, ...rbacFilterList(tcp)],
  };
}
