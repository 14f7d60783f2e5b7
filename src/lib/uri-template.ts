/**
 * Envoy's URI template path matching (envoy.path.match.uri_template, also RBAC `uri_template`):
 * `*` matches one path segment, `**` zero or more characters across segments (no operator may
 * follow it), `{name}` / `{name=*}` / `{name=**}` / `{name=a/*}` match what their pattern
 * matches (the names only matter to rewrites), anything else is literal. The whole path, without
 * query and fragment, must match. Returns the anchored regular expression source (RE2 and
 * JavaScript alike), or an error (a template Envoy refuses).
 */
const SEGMENT = "[a-zA-Z0-9\\-._~%!$&'()*+,;:@=]+";
const ANY = "[a-zA-Z0-9\\-._~%!$&'()*+,;:@=/]*";
const LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]*$/;

export function uriTemplateRegex(template: string): { regex: string } | { error: string } {
  if (!template.startsWith('/')) return { error: `path template ${template} must start with /` };
  const expanded = template.replace(/\{([a-zA-Z][a-zA-Z0-9_]*)(?:=([^{}]*))?\}/g, (_m, _name: string, pattern: string | undefined) => pattern ?? '*');
  let out = '';
  let sawAny = false;
  for (const seg of expanded.slice(1).split('/')) {
    out += '/';
    if (seg === '*' || seg === '**') {
      if (sawAny) return { error: `path template ${template}: no operator may follow **` };
      sawAny = seg === '**';
      out += seg === '*' ? SEGMENT : ANY;
    } else if (LITERAL.test(seg)) {
      out += seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else {
      return { error: `path template ${template}: invalid segment ${JSON.stringify(seg)}` };
    }
  }
  return { regex: `^${out}$` };
}
