/**
 * Istio's path templates in AuthorizationPolicy `paths`/`notPaths` (`/books/{*}`, `/api/{**}`),
 * which Envoy matches with the `uri_template` extension. Not implemented by Mizzen's proxy yet:
 * the authz generator fails closed on them (see authz-rbac.ts).
 */
export function containsPathTemplate(path: string): boolean {
  return path.includes('{*}') || path.includes('{**}');
}
