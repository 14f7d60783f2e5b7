import type { ConfigResource } from '../../api/config-resource.ts';
import type { RequestAuthenticationSpec } from '../../api/istio/request-authentication.ts';
import { JWT_PAYLOAD_KEY } from './authz-matchers.ts';
import { EXT, duration, type JsonObject } from './envoy-extensions.ts';

/**
 * RequestAuthentication → envoy.filters.http.jwt_authn, as Istio: a request with a token must
 * carry a valid one for some provider (else 401); a request without a token passes (an
 * AuthorizationPolicy on requestPrincipals is what requires one). The verified payload goes to
 * dynamic metadata under `payload`, which authz reads for `request.auth.*` and requestPrincipals.
 */
export function buildJwtAuthn(policies: readonly ConfigResource<RequestAuthenticationSpec>[]): JsonObject | undefined {
  const providers: JsonObject = {};
  const names: string[] = [];
  for (const p of policies) {
    for (const [i, rule] of (p.spec.jwtRules ?? []).entries()) {
      if (!rule.issuer) continue;
      const name = `origins-${p.metadata.namespace ?? 'default'}-${p.metadata.name}-${i}`;
      const provider: JsonObject = { issuer: rule.issuer, payloadInMetadata: JWT_PAYLOAD_KEY, forward: rule.forwardOriginalToken ?? false };
      if (rule.audiences?.length) provider.audiences = [...rule.audiences];
      if (rule.jwks) provider.localJwks = { inlineString: rule.jwks };
      else if (rule.jwksUri) provider.remoteJwks = { httpUri: { uri: rule.jwksUri, cluster: jwksCluster(rule.jwksUri), timeout: duration(rule.timeout) ?? '5s' }, cacheDuration: '300s' };
      if (rule.fromHeaders?.length) provider.fromHeaders = rule.fromHeaders.map((h) => ({ name: h.name ?? 'Authorization', ...(h.prefix ? { valuePrefix: h.prefix } : {}) }));
      if (rule.fromParams?.length) provider.fromParams = [...rule.fromParams];
      if (rule.fromCookies?.length) provider.fromCookies = [...rule.fromCookies];
      if (rule.outputPayloadToHeader) provider.forwardPayloadHeader = rule.outputPayloadToHeader;
      if (rule.outputClaimToHeaders?.length) provider.claimToHeaders = rule.outputClaimToHeaders.map((c) => ({ headerName: c.header ?? '', claimName: c.claim ?? '' }));
      providers[name] = provider;
      names.push(name);
    }
  }
  if (names.length === 0) return undefined;
  const requires = { requiresAny: { requirements: [...names.map((providerName) => ({ providerName })), { allowMissing: {} }] } };
  return { name: EXT.jwtAuthn.name, typedConfig: { '@type': EXT.jwtAuthn.type, providers, rules: [{ match: { prefix: '/' }, requires }], bypassCorsPreflight: true } };
}

/** Istio fetches JWKS through an outbound cluster for the URI's host and port. */
function jwksCluster(uri: string): string {
  try {
    const u = new URL(uri);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return `outbound|${port}||${u.hostname}`;
  } catch {
    return 'BlackHoleCluster';
  }
}
