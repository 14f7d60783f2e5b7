/**
 * Where a field pattern occurs in a resource: `spec.rules[*].to[*].operation.paths` walks every
 * element of `rules` and `to`; `spec.portLevelMtls{*}.mode` walks every value of a map. Returns
 * the concrete paths (`spec.rules[0].to[1].operation.paths`) whose value is set and satisfies
 * `when` (default: any value that is present).
 */
export function findFieldPaths(root: unknown, pattern: string, when: (value: unknown) => boolean = () => true): string[] {
  const out: string[] = [];
  walk(root, tokenize(pattern), 0, '', when, out);
  return out;
}

type Token = { kind: 'field'; name: string } | { kind: 'each' } | { kind: 'values' };

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (const part of pattern.match(/[^.[{]+|\[\*\]|\{\*\}/g) ?? []) {
    if (part === '[*]') tokens.push({ kind: 'each' });
    else if (part === '{*}') tokens.push({ kind: 'values' });
    else tokens.push({ kind: 'field', name: part });
  }
  return tokens;
}

function walk(v: unknown, tokens: Token[], i: number, path: string, when: (value: unknown) => boolean, out: string[]): void {
  if (v === undefined || v === null) return;
  if (i === tokens.length) {
    if (when(v)) out.push(path);
    return;
  }
  const t = tokens[i]!;
  if (t.kind === 'field') {
    if (typeof v !== 'object' || Array.isArray(v)) return;
    walk((v as Record<string, unknown>)[t.name], tokens, i + 1, path ? `${path}.${t.name}` : t.name, when, out);
  } else if (t.kind === 'each') {
    if (!Array.isArray(v)) return;
    v.forEach((x, k) => walk(x, tokens, i + 1, `${path}[${k}]`, when, out));
  } else {
    if (typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, tokens, i + 1, `${path}[${k}]`, when, out);
  }
}
