/**
 * Istio's path templates in AuthorizationPolicy `paths`/`notPaths` (`/books/{*}`, `/api/{**}`),
 * matched by Envoy's `uri_template` extension, whose syntax is the same without braces.
 */
export function containsPathTemplate(path: string): boolean {
  return path.includes('{*}') || path.includes('{**}');
}

/** Istio's `{*}` and `{**}` become Envoy's `*` and `**` (Istio's PathTemplateMatcher). */
export function envoyPathTemplate(path: string): string {
  return path.replaceAll('{**}', '**').replaceAll('{*}', '*');
}
