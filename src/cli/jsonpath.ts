import { MizzenError } from '../lib/errors.ts';

/**
 * kubectl's JSONPath templates (`-o jsonpath=...`, `-o custom-columns=`): text with `{...}`
 * expressions; `.field`, `['field']`, `[n]`, `[a:b]`, `[*]`, `..field` (recursive descent),
 * `[?(@.field=="value")]` filters (==, !=, <, <=, >, >=, or existence), `{range EXPR}...{end}`,
 * string literals `{"\n"}`, `$` (root) and `@` (current). The results of one expression are
 * printed separated by spaces; maps and lists as JSON, as kubectl does.
 */
type Step =
  | { kind: 'field'; name: string }
  | { kind: 'recursive'; name: string | undefined }
  | { kind: 'index'; index: number }
  | { kind: 'slice'; start: number | undefined; end: number | undefined }
  | { kind: 'wildcard' }
  | { kind: 'filter'; path: Step[]; op: string | undefined; value: unknown };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; path: Step[] }
  | { kind: 'range'; path: Step[]; body: Node[] };

function fail(template: string, message: string): never {
  throw new MizzenError('USAGE', `error parsing jsonpath ${template}, ${message}`);
}

/** Parse `.a.b[0]['c'][*]..d[?(@.x=="y")]` into steps. */
function parsePath(src: string, template: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const text = src.trim();
  if (text === '$' || text === '@' || text === '') return steps;
  if (text.startsWith('$') || text.startsWith('@')) i = 1;
  const ident = (): string => {
    const m = /^[A-Za-z0-9_\-/$]+/.exec(text.slice(i));
    if (!m) fail(template, `unexpected ${JSON.stringify(text.slice(i, i + 10))}`);
    i += m[0].length;
    return m[0];
  };
  if (i === 0 && /^[A-Za-z_]/.test(text)) steps.push({ kind: 'field', name: ident() });
  while (i < text.length) {
    if (text.startsWith('..', i)) {
      i += 2;
      if (text[i] === '[' || text[i] === '*') {
        if (text[i] === '*') i++;
        steps.push({ kind: 'recursive', name: undefined });
        continue;
      }
      steps.push({ kind: 'recursive', name: ident() });
    } else if (text[i] === '.') {
      i++;
      if (text[i] === '*') {
        i++;
        steps.push({ kind: 'wildcard' });
      } else steps.push({ kind: 'field', name: ident() });
    } else if (text[i] === '[') {
      const close = matchingBracket(text, i, template);
      const inner = text.slice(i + 1, close).trim();
      i = close + 1;
      steps.push(bracketStep(inner, template));
    } else fail(template, `unexpected ${JSON.stringify(text.slice(i, i + 10))}`);
  }
  return steps;
}

function matchingBracket(text: string, open: number, template: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let j = open; j < text.length; j++) {
    const c = text[j];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return j;
  }
  fail(template, 'unclosed [');
}

function bracketStep(inner: string, template: string): Step {
  if (inner === '*') return { kind: 'wildcard' };
  const quoted = /^(['"])(.*)\1$/.exec(inner);
  if (quoted) return { kind: 'field', name: quoted[2] };
  if (/^-?\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  const slice = /^(-?\d*):(-?\d*)$/.exec(inner);
  if (slice) return { kind: 'slice', start: slice[1] ? Number(slice[1]) : undefined, end: slice[2] ? Number(slice[2]) : undefined };
  const filter = /^\?\((.*)\)$/.exec(inner);
  if (filter) {
    const m = /^(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+)$/.exec(filter[1].trim());
    if (!m) return { kind: 'filter', path: parsePath(filter[1].trim(), template), op: undefined, value: undefined };
    return { kind: 'filter', path: parsePath(m[1], template), op: m[2], value: literal(m[3].trim(), template) };
  }
  fail(template, `unsupported [${inner}]`);
}

function literal(text: string, template: string): unknown {
  const q = /^(['"])(.*)\1$/.exec(text);
  if (q) return q[2];
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'nil' || text === 'null') return null;
  fail(template, `unrecognized literal ${text}`);
}

/** Split a template into text, expressions and range blocks. */
function parseTemplate(template: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      stack[stack.length - 1].push({ kind: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) stack[stack.length - 1].push({ kind: 'text', text: template.slice(i, open) });
    let close = open + 1;
    let quote: string | undefined;
    for (; close < template.length; close++) {
      const c = template[close];
      if (quote) {
        if (c === '\\') close++;
        else if (c === quote) quote = undefined;
      } else if (c === '"') quote = c;
      else if (c === '}') break;
    }
    if (close >= template.length) fail(template, 'unclosed action');
    const body = template.slice(open + 1, close).trim();
    i = close + 1;
    const str = /^"((?:[^"\\]|\\.)*)"$/.exec(body);
    if (str) stack[stack.length - 1].push({ kind: 'text', text: JSON.parse(`"${str[1]}"`) as string });
    else if (body.startsWith('range ')) {
      const node: Node = { kind: 'range', path: parsePath(body.slice(6), template), body: [] };
      stack[stack.length - 1].push(node);
      stack.push(node.body);
    } else if (body === 'end') {
      if (stack.length === 1) fail(template, 'not in range, nothing to end');
      stack.pop();
    } else stack[stack.length - 1].push({ kind: 'expr', path: parsePath(body, template) });
  }
  if (stack.length > 1) fail(template, 'range without end');
  return root;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compare(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '==':
      return a === b || (typeof a === 'number' && typeof b === 'string' ? String(a) === b : false);
    case '!=':
      return a !== b;
    case '<':
      return typeof a === 'number' && typeof b === 'number' && a < b;
    case '<=':
      return typeof a === 'number' && typeof b === 'number' && a <= b;
    case '>':
      return typeof a === 'number' && typeof b === 'number' && a > b;
    default:
      return typeof a === 'number' && typeof b === 'number' && a >= b;
  }
}

function descendants(v: unknown, out: unknown[] = []): unknown[] {
  out.push(v);
  if (Array.isArray(v)) for (const x of v) descendants(x, out);
  else if (isObj(v)) for (const x of Object.values(v)) descendants(x, out);
  return out;
}

function evaluate(path: readonly Step[], values: unknown[]): unknown[] {
  let cur = values;
  for (const step of path) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (step.kind) {
        case 'field':
          if (isObj(v) && step.name in v) next.push(v[step.name]);
          break;
        case 'recursive':
          for (const d of descendants(v)) {
            if (step.name === undefined) next.push(d);
            else if (isObj(d) && step.name in d) next.push(d[step.name]);
          }
          break;
        case 'index':
          if (Array.isArray(v)) {
            const x = v[step.index < 0 ? v.length + step.index : step.index];
            if (x !== undefined) next.push(x);
          }
          break;
        case 'slice':
          if (Array.isArray(v)) next.push(...v.slice(step.start, step.end));
          break;
        case 'wildcard':
          if (Array.isArray(v)) next.push(...v);
          else if (isObj(v)) next.push(...Object.values(v));
          break;
        case 'filter':
          for (const item of Array.isArray(v) ? v : [v]) {
            const got = evaluate(step.path, [item]);
            if (step.op === undefined ? got.length > 0 : got.some((g) => compare(g, step.op!, step.value))) next.push(item);
          }
          break;
      }
    }
    cur = next;
  }
  return cur;
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** kubectl's relaxed form: `.items[0]` or `items[0]` without braces means `{.items[0]}`. */
function relaxed(template: string): string {
  if (template.includes('{')) return template;
  const t = template.trim();
  return `{${t.startsWith('.') || t.startsWith('$') ? t : `.${t}`}}`;
}

/** A compiled template: `render(object)` gives kubectl's output for it. */
export function compileJsonPath(template: string): (data: unknown) => string {
  const nodes = parseTemplate(relaxed(template));
  const render = (list: readonly Node[], data: unknown): string => {
    let out = '';
    for (const n of list) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'expr') out += evaluate(n.path, [data]).map(show).join(' ');
      else for (const item of evaluate(n.path, [data]).flatMap((v) => (Array.isArray(v) ? v : [v]))) out += render(n.body, item);
    }
    return out;
  };
  return (data) => render(nodes, data);
}

/** The values one path (`.metadata.name`) selects, for custom columns and printer columns. */
export function jsonPathValues(path: string, data: unknown): unknown[] {
  return evaluate(parsePath(path.replace(/^\{|\}$/g, ''), path), [data]);
}
