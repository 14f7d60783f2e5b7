import { parseDurationNanos } from '../duration.ts';
import type { CelNode } from './cel-parser.ts';

/**
 * Evaluates a parsed CEL expression against `self` (the value the rule is attached to). Errors
 * (no such key, type mismatch, bad duration) throw CelEvalError; Kubernetes treats a rule that
 * fails to evaluate as not satisfied.
 */
export class CelEvalError extends Error {}

/** A function this interpreter does not implement: the rule cannot be judged (not the user's fault). */
export class CelUnsupportedError extends Error {}

class Duration {
  readonly nanos: number;
  constructor(nanos: number) {
    this.nanos = nanos;
  }
}

class CelUrl {
  readonly url: URL;
  constructor(url: URL) {
    this.url = url;
  }
}

type Scope = Map<string, unknown>;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Duration) && !(v instanceof CelUrl);
}

function sizeOf(v: unknown): number {
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new CelEvalError('size() of a value without size');
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Duration && b instanceof Duration) return a.nanos === b.nanos;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
  }
  return a === b;
}

function compare(a: unknown, b: unknown): number {
  if (a instanceof Duration && b instanceof Duration) return a.nanos - b.nanos;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new CelEvalError('no such overload for comparison');
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new CelEvalError(`${what} expects a string`);
  return v;
}

/** Go's url.Parse is lenient; this mirrors what Kubernetes' CEL url() accepts for our rules. */
function parseUrl(s: string): CelUrl | undefined {
  if (/[\s\\]/.test(s) || /[\x00-\x1f\x7f]/.test(s)) return undefined;
  try {
    return new CelUrl(new URL(s));
  } catch {
    return undefined;
  }
}

function macroVar(node: CelNode): string {
  if (node.t !== 'id') throw new CelEvalError('macro variable must be an identifier');
  return node.name;
}

/**
 * Kubernetes' escaping of property names in CEL: a name that is a CEL reserved word is written
 * `__name__` (`__namespace__`), and `__dot__`, `__dash__`, `__slash__`, `__underscores__` stand
 * for `.`, `-`, `/`, `__`.
 */
function propertyName(escaped: string): string {
  if (!escaped.includes('__')) return escaped;
  const reserved = /^__(true|false|null|in|as|break|const|continue|else|for|function|if|import|let|loop|package|namespace|return|var|void|while)__$/.exec(escaped);
  if (reserved) return reserved[1]!;
  return escaped.replace(/__(dot|dash|slash|underscores)__/g, (_m, w: string) => (w === 'dot' ? '.' : w === 'dash' ? '-' : w === 'slash' ? '/' : '__'));
}

export function evaluateCel(node: CelNode, self: unknown): unknown {
  return evaluate(node, new Map([['self', self]]));
}

/** Evaluate with named top-level variables (Envoy attributes: `request`, `response`, ...). */
export function evaluateCelWith(node: CelNode, variables: Readonly<Record<string, unknown>>): unknown {
  return evaluate(node, new Map(Object.entries(variables)));
}

function evaluate(node: CelNode, scope: Scope): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'id':
      if (!scope.has(node.name)) throw new CelEvalError(`undeclared reference to '${node.name}'`);
      return scope.get(node.name);
    case 'list':
      return node.items.map((i) => evaluate(i, scope));
    case 'map':
      return Object.fromEntries(node.entries.map(([k, v]) => [String(evaluate(k, scope)), evaluate(v, scope)]));
    case 'member': {
      const obj = evaluate(node.obj, scope);
      const name = propertyName(node.name);
      if (!isMap(obj) || !(name in obj) || obj[name] === undefined) throw new CelEvalError(`no such key: ${name}`);
      return obj[name];
    }
    case 'index': {
      const obj = evaluate(node.obj, scope);
      const idx = evaluate(node.index, scope);
      if (Array.isArray(obj) && typeof idx === 'number') {
        if (idx < 0 || idx >= obj.length) throw new CelEvalError('index out of range');
        return obj[idx];
      }
      if (isMap(obj) && String(idx) in obj) return obj[String(idx)];
      throw new CelEvalError('no such key');
    }
    case 'unary': {
      const v = evaluate(node.arg, scope);
      if (node.op === '!') {
        if (typeof v !== 'boolean') throw new CelEvalError('! expects a bool');
        return !v;
      }
      if (typeof v !== 'number') throw new CelEvalError('- expects a number');
      return -v;
    }
    case 'cond': {
      const test = evaluate(node.test, scope);
      if (typeof test !== 'boolean') throw new CelEvalError('condition must be a bool');
      return evaluate(test ? node.then : node.else, scope);
    }
    case 'binary':
      return binary(node.op, node.left, node.right, scope);
    case 'call':
      return call(node, scope);
  }
}

function binary(op: string, l: CelNode, r: CelNode, scope: Scope): unknown {
  if (op === '&&' || op === '||') {
    // CEL's commutative logic: an error on one side is absorbed when the other decides.
    let left: unknown;
    let leftErr: unknown;
    try {
      left = evaluate(l, scope);
    } catch (e) {
      leftErr = e;
    }
    const decisive = op === '||';
    if (left === decisive) return decisive;
    const right = evaluate(r, scope);
    if (right === decisive) return decisive;
    if (leftErr) throw leftErr;
    if (typeof left !== 'boolean' || typeof right !== 'boolean') throw new CelEvalError(`${op} expects bools`);
    return !decisive;
  }
  const a = evaluate(l, scope);
  const b = evaluate(r, scope);
  switch (op) {
    case '==':
      return equal(a, b);
    case '!=':
      return !equal(a, b);
    case '<':
      return compare(a, b) < 0;
    case '<=':
      return compare(a, b) <= 0;
    case '>':
      return compare(a, b) > 0;
    case '>=':
      return compare(a, b) >= 0;
    case 'in':
      if (Array.isArray(b)) return b.some((x) => equal(x, a));
      if (isMap(b)) return String(a) in b;
      throw new CelEvalError('in expects a list or map');
    case '+':
      if (typeof a === 'number' && typeof b === 'number') return a + b;
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      throw new CelEvalError('no such overload for +');
    default: {
      if (typeof a !== 'number' || typeof b !== 'number') throw new CelEvalError(`no such overload for ${op}`);
      if ((op === '/' || op === '%') && b === 0) throw new CelEvalError('division by zero');
      if (op === '-') return a - b;
      if (op === '*') return a * b;
      if (op === '/') return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
      return a % b;
    }
  }
}

function comprehension(node: Extract<CelNode, { t: 'call' }>, scope: Scope): unknown {
  const range = evaluate(node.target as CelNode, scope);
  const items = Array.isArray(range) ? range : isMap(range) ? Object.keys(range) : undefined;
  if (!items) throw new CelEvalError(`${node.fn}() expects a list or map`);
  const name = macroVar(node.args[0]);
  const body = node.args[1];
  const test = (item: unknown): boolean => {
    const inner = new Map(scope);
    inner.set(name, item);
    const v = evaluate(body, inner);
    if (typeof v !== 'boolean') throw new CelEvalError(`${node.fn}() predicate must be a bool`);
    return v;
  };
  if (node.fn === 'all') return items.every(test);
  if (node.fn === 'exists') return items.some(test);
  if (node.fn === 'exists_one') return items.filter(test).length === 1;
  if (node.fn === 'filter') return items.filter(test);
  const inner = new Map(scope);
  return items.map((item) => {
    inner.set(name, item);
    return evaluate(body, inner);
  });
}

function call(node: Extract<CelNode, { t: 'call' }>, scope: Scope): unknown {
  const { fn } = node;
  if (fn === 'has' && !node.target) {
    const arg = node.args[0];
    if (arg?.t !== 'member') throw new CelEvalError('has() expects a field selection');
    const obj = evaluate(arg.obj, scope);
    if (!isMap(obj)) throw new CelEvalError('has() on a non-object');
    const name = propertyName(arg.name);
    const v = obj[name];
    // Repeated fields have no presence in proto: an empty list counts as unset.
    return name in obj && v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
  }
  if (node.target && ['all', 'exists', 'exists_one', 'map', 'filter'].includes(fn)) return comprehension(node, scope);
  const target = node.target ? evaluate(node.target, scope) : undefined;
  const args = node.args.map((a) => evaluate(a, scope));
  const subject = node.target ? target : args[0];
  switch (fn) {
    case 'size':
      return sizeOf(subject);
    case 'contains':
      return str(target, fn).includes(str(args[0], fn));
    case 'startsWith':
      return str(target, fn).startsWith(str(args[0], fn));
    case 'endsWith':
      return str(target, fn).endsWith(str(args[0], fn));
    case 'matches':
      try {
        return new RegExp(str(args[0], fn), 'u').test(str(node.target ? target : args[0], fn));
      } catch {
        throw new CelEvalError('invalid regular expression');
      }
    case 'substring': {
      const s = [...str(target, fn)];
      const start = args[0] as number;
      const end = args.length > 1 ? (args[1] as number) : s.length;
      if (start < 0 || end > s.length || start > end) throw new CelEvalError('substring index out of range');
      return s.slice(start, end).join('');
    }
    case 'lowerAscii':
      return str(target, fn).toLowerCase();
    case 'int': {
      const v = args[0];
      if (typeof v === 'number') return Math.trunc(v);
      if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return Number(v);
      throw new CelEvalError('int() conversion error');
    }
    case 'string':
      return String(args[0]);
    case 'duration': {
      const nanos = parseDurationNanos(str(args[0], fn));
      if (nanos === undefined) throw new CelEvalError(`invalid duration ${JSON.stringify(args[0])}`);
      return new Duration(nanos);
    }
    case 'isURL':
      return parseUrl(str(args[0], fn)) !== undefined;
    case 'url': {
      const u = parseUrl(str(args[0], fn));
      if (!u) throw new CelEvalError('URL parse error');
      return u;
    }
    case 'getScheme':
      if (!(target instanceof CelUrl)) throw new CelEvalError('getScheme() expects a URL');
      return target.url.protocol.replace(/:$/, '');
    case 'getHost':
      if (!(target instanceof CelUrl)) throw new CelEvalError('getHost() expects a URL');
      return target.url.host;
    default:
      throw new CelUnsupportedError(`unsupported function ${fn}()`);
  }
}
