/**
 * Regular expressions in Istio config are RE2 (Envoy's safe_regex). JavaScript's engine is close
 * enough to check syntax, but RE2 rejects some constructs JavaScript accepts: look-around,
 * backreferences and possessive/atomic groups. Length is capped at 1024 as Istio does.
 */
const NOT_RE2: [RegExp, string][] = [
  [/\(\?[=!]/, 'look-ahead is not supported'],
  [/\(\?<[=!]/, 'look-behind is not supported'],
  [/\\[1-9]/, 'backreferences are not supported'],
  [/\(\?>/, 'atomic groups are not supported'],
  [/[*+?}][+]/, 'possessive quantifiers are not supported'],
];

export function validateRegex(re: string, where: string): string | undefined {
  if (re.length > 1024) return `"${where}": regex is too large, max length allowed is 1024`;
  const hint = '; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)';
  for (const [pattern, why] of NOT_RE2) if (pattern.test(re)) return `"${where}": error parsing regexp: ${why}${hint}`;
  // RE2 named groups: (?P<name>...) and (?<name>...); JavaScript knows only the latter.
  const js = re.replace(/\(\?P</g, '(?<').replace(/^\(\?([imsU]+)\)/, '');
  try {
    new RegExp(js, 'u');
  } catch (err) {
    try {
      new RegExp(js);
    } catch {
      return `"${where}": error parsing regexp: ${(err as Error).message}${hint}`;
    }
  }
  return undefined;
}
