import type { ConfigResource } from '../../../api/config-resource.ts';
import type { JWTRule, RequestAuthenticationSpec } from '../../../api/istio/request-authentication.ts';
import { validateDuration } from './duration.ts';
import { validateStrictHeaderName } from './http-headers.ts';
import { at, type IssueList } from './issue-list.ts';
import { validatePolicySelection } from './target-refs.ts';

/** Istio's ParseJwksURI: http(s) URL with a host; the port (if any) must be numeric. */
function validateJwksUri(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `jwks URI "${uri}" is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `URI scheme "${u.protocol.replace(/:$/, '')}" is not supported`;
  if (!u.hostname) return `jwks URI "${uri}" has no host`;
  return undefined;
}

function validateJwks(jwks: string): string | undefined {
  try {
    const v = JSON.parse(jwks) as unknown;
    if (typeof v !== 'object' || v === null) return 'jwks parse error: not a JSON object';
    const keys = (v as { keys?: unknown }).keys;
    if (keys !== undefined && !Array.isArray(keys)) return 'jwks parse error: keys must be an array';
    if (keys === undefined && typeof (v as { kty?: unknown }).kty !== 'string') return 'jwks parse error: missing "keys" or "kty"';
    return undefined;
  } catch (err) {
    return `jwks parse error: ${(err as Error).message}`;
  }
}

function validateJwtRule(rule: JWTRule, path: string, out: IssueList): void {
  if (!rule.issuer) out.error(at(path, 'issuer'), 'issuer must be set');
  for (const a of rule.audiences ?? []) if (a === '') out.error(at(path, 'audiences'), 'audience must be non-empty string');
  if (rule.jwksUri) out.check(at(path, 'jwksUri'), validateJwksUri(rule.jwksUri));
  if (rule.jwks) out.check(at(path, 'jwks'), validateJwks(rule.jwks));
  (rule.fromHeaders ?? []).forEach((h, i) => {
    if (!h) out.error(at(at(path, 'fromHeaders'), i), 'location header name must be non-null');
    else if (!h.name) out.error(at(at(path, 'fromHeaders'), i), 'location header name must be non-empty string');
  });
  for (const p of rule.fromParams ?? []) if (p === '') out.error(at(path, 'fromParams'), 'location query must be non-empty string');
  for (const c of rule.fromCookies ?? []) if (c === '') out.error(at(path, 'fromCookies'), 'cookie name must be non-empty string');
  (rule.outputClaimToHeaders ?? []).forEach((ch, i) => {
    const p = at(at(path, 'outputClaimToHeaders'), i);
    if (!ch) out.error(p, 'outputClaimToHeaders must not be null');
    else if (!ch.claim || !ch.header) out.error(p, 'outputClaimToHeaders header and claim value must be non-empty string');
    else out.check(at(p, 'header'), validateStrictHeaderName(ch.header));
  });
  if (rule.timeout !== undefined) out.check(at(path, 'timeout'), validateDuration(rule.timeout));
}

export function validateRequestAuthentication(r: ConfigResource<RequestAuthenticationSpec>, out: IssueList): void {
  validatePolicySelection(r.spec, 'spec', out);
  (r.spec.jwtRules ?? []).forEach((rule, i) => {
    if (rule) validateJwtRule(rule, at('spec.jwtRules', i), out);
  });
}
