import { MizzenError } from '../lib/errors.ts';

/** One requirement of a label selector (`-l`), as kubectl parses them. */
interface Requirement {
  key: string;
  op: 'exists' | 'notexists' | 'in' | 'notin';
  values: string[];
}

/**
 * kubectl's `-l` selector: comma-separated `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
 * `k notin (a,b)`; every requirement must hold.
 */
export function parseLabelSelector(text: string): (labels: Readonly<Record<string, string>> | undefined) => boolean {
  const reqs: Requirement[] = [];
  for (const part of splitTop(text)) {
    const p = part.trim();
    if (!p) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) reqs.push({ key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) });
    else if ((m = /^([\w./-]+)\s*!=\s*([\w.-]*)$/.exec(p))) reqs.push({ key: m[1], op: 'notin', values: [m[2]] });
    else if ((m = /^([\w./-]+)\s*==?\s*([\w.-]*)$/.exec(p))) reqs.push({ key: m[1], op: 'in', values: [m[2]] });
    else if ((m = /^!\s*([\w./-]+)$/.exec(p))) reqs.push({ key: m[1], op: 'notexists', values: [] });
    else if ((m = /^([\w./-]+)$/.exec(p))) reqs.push({ key: m[1], op: 'exists', values: [] });
    else throw new MizzenError('USAGE', `unable to parse requirement: ${JSON.stringify(p)}`);
  }
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(l, r.key);
      switch (r.op) {
        case 'exists':
          return has;
        case 'notexists':
          return !has;
        case 'in':
          return has && r.values.includes(l[r.key]);
        default:
          return !has || !r.values.includes(l[r.key]);
      }
    });
  };
}

/** Split on commas outside parentheses. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
