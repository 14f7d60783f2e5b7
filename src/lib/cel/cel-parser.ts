/**
 * A parser for the subset of CEL (Common Expression Language) that Kubernetes
 * `x-kubernetes-validations` rules in Istio's CRDs use: literals, lists and maps, member access,
 * indexing, function and method calls, the macros has/all/exists/exists_one, and the operators
 * ! - * / % + - < <= > >= == != in && || ?:.
 */
export type CelNode =
  | { t: 'lit'; v: unknown }
  | { t: 'id'; name: string }
  | { t: 'list'; items: CelNode[] }
  | { t: 'map'; entries: [CelNode, CelNode][] }
  | { t: 'member'; obj: CelNode; name: string }
  | { t: 'index'; obj: CelNode; index: CelNode }
  | { t: 'call'; fn: string; target?: CelNode; args: CelNode[] }
  | { t: 'unary'; op: string; arg: CelNode }
  | { t: 'binary'; op: string; left: CelNode; right: CelNode }
  | { t: 'cond'; test: CelNode; then: CelNode; else: CelNode };

interface Token {
  k: 'num' | 'str' | 'id' | 'op' | 'end';
  v: string;
  num?: number;
}

export class CelSyntaxError extends Error {}

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '!', '<', '>', '+', '-', '*', '/', '%', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];

function unescape(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    if (e[0] === 'u' || e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" } as Record<string, string>)[e] ?? e;
  });
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw new CelSyntaxError('unterminated string');
      out.push({ k: 'str', v: unescape(src.slice(i + 1, j)) });
      i = j + 1;
      continue;
    }
    const num = /^\d+(\.\d+)?([eE][+-]?\d+)?u?/.exec(src.slice(i));
    if (num) {
      out.push({ k: 'num', v: num[0], num: Number(num[0].replace(/u$/, '')) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ k: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelSyntaxError(`unexpected character ${JSON.stringify(c)}`);
    out.push({ k: 'op', v: op });
    i += op.length;
  }
  out.push({ k: 'end', v: '' });
  return out;
}

const BINARY_PRECEDENCE: Record<string, number> = {
  '||': 1,
  '&&': 2,
  '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, in: 3,
  '+': 4, '-': 4,
  '*': 5, '/': 5, '%': 5,
};

class Parser {
  readonly #toks: Token[];
  #pos = 0;
  constructor(toks: Token[]) {
    this.#toks = toks;
  }
  #peek(): Token {
    return this.#toks[this.#pos];
  }
  #next(): Token {
    return this.#toks[this.#pos++];
  }
  #isOp(v: string): boolean {
    const t = this.#peek();
    return (t.k === 'op' || (t.k === 'id' && v === 'in')) && t.v === v;
  }
  #expect(v: string): void {
    const t = this.#next();
    if (t.v !== v) throw new CelSyntaxError(`expected ${v}, got ${t.v || 'end'}`);
  }

  parseAll(): CelNode {
    const e = this.expr();
    if (this.#peek().k !== 'end') throw new CelSyntaxError(`unexpected ${this.#peek().v}`);
    return e;
  }

  expr(): CelNode {
    const test = this.#binary(1);
    if (this.#isOp('?')) {
      this.#next();
      const then = this.expr();
      this.#expect(':');
      const els = this.expr();
      return { t: 'cond', test, then, else: els };
    }
    return test;
  }

  #binary(minPrec: number): CelNode {
    let left = this.#unary();
    for (;;) {
      const t = this.#peek();
      const op = t.v;
      const prec = (t.k === 'op' || (t.k === 'id' && op === 'in')) ? BINARY_PRECEDENCE[op] : undefined;
      if (prec === undefined || prec < minPrec) return left;
      this.#next();
      const right = this.#binary(prec + 1);
      left = { t: 'binary', op, left, right };
    }
  }

  #unary(): CelNode {
    if (this.#isOp('!') || this.#isOp('-')) {
      const op = this.#next().v;
      return { t: 'unary', op, arg: this.#unary() };
    }
    return this.#postfix(this.#primary());
  }

  #args(): CelNode[] {
    const args: CelNode[] = [];
    this.#expect('(');
    if (!this.#isOp(')')) {
      do args.push(this.expr());
      while (this.#isOp(',') && this.#next());
    }
    this.#expect(')');
    return args;
  }

  #postfix(node: CelNode): CelNode {
    for (;;) {
      if (this.#isOp('.')) {
        this.#next();
        const name = this.#next();
        if (name.k !== 'id') throw new CelSyntaxError('expected a field name');
        if (this.#isOp('(')) node = { t: 'call', fn: name.v, target: node, args: this.#args() };
        else node = { t: 'member', obj: node, name: name.v };
      } else if (this.#isOp('[')) {
        this.#next();
        const index = this.expr();
        this.#expect(']');
        node = { t: 'index', obj: node, index };
      } else return node;
    }
  }

  #primary(): CelNode {
    const t = this.#next();
    if (t.k === 'num') return { t: 'lit', v: t.num };
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { t: 'lit', v: null };
      if (this.#isOp('(')) return { t: 'call', fn: t.v, args: this.#args() };
      return { t: 'id', name: t.v };
    }
    if (t.v === '(') {
      const e = this.expr();
      this.#expect(')');
      return e;
    }
    if (t.v === '[') {
      const items: CelNode[] = [];
      if (!this.#isOp(']')) {
        do items.push(this.expr());
        while (this.#isOp(',') && this.#next());
      }
      this.#expect(']');
      return { t: 'list', items };
    }
    if (t.v === '{') {
      const entries: [CelNode, CelNode][] = [];
      if (!this.#isOp('}')) {
        do {
          const k = this.expr();
          this.#expect(':');
          entries.push([k, this.expr()]);
        } while (this.#isOp(',') && this.#next());
      }
      this.#expect('}');
      return { t: 'map', entries };
    }
    throw new CelSyntaxError(`unexpected ${t.v || 'end of expression'}`);
  }
}

export function parseCel(src: string): CelNode {
  return new Parser(tokenize(src)).parseAll();
}
