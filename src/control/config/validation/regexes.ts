import { re2SyntaxError } from './re2-syntax.ts';

/**
 * Regular expressions in Istio config are RE2 (Envoy's safe_regex). Istio checks them with Go's
 * regexp package (RE2 syntax); so does re2-syntax.ts, reporting the user's own pattern and Go's
 * message (`error parsing regexp: missing closing ]: `[/``). Length is capped at 1024 as Istio does.
 */
export function validateRegex(re: string, where: string): string | undefined {
  if (re.length > 1024) return `"${where}": regex is too large, max length allowed is 1024`;
  const err = re2SyntaxError(re);
  return err ? `"${where}": ${err.message}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)` : undefined;
}
