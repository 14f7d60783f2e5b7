/**
 * RE2's syntax, checked the way Istio checks it (Go's `regexp.Compile`, Perl flags): the first
 * error as Go reports it, `error parsing regexp: CODE: `EXPR``, with the user's own text as EXPR
 * (not JavaScript's rendering of it). Covers what Go's parser refuses: missing or unexpected
 * parentheses and brackets, repetition without an argument or nested, repeat counts over 1000,
 * invalid escapes (backreferences, \Z, \C, unknown letters), invalid ranges and character
 * classes, and Perl syntax RE2 does not have (look-around, atomic groups, possessive forms).
 */
export class Re2SyntaxError extends Error {
  readonly code: string;
  readonly expr: string;

  constructor(code: string, expr: string) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
    this.code = code;
    this.expr = expr;
  }
}

const MAX_REPEAT = 1000;
const POSIX_CLASSES = new Set(['alnum', 'alpha', 'ascii', 'blank', 'cntrl', 'digit', 'graph', 'lower', 'print', 'punct', 'space', 'upper', 'word', 'xdigit']);

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

/** A Unicode class name Go accepts in \p{...}: a general category or a script (Any too). */
function knownUnicodeClass(name: string): boolean {
  if (name === 'Any') return true;
  for (const candidate of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, 'u');
      return true;
    } catch {
      // not this form
    }
  }
  return false;
}

class Parser {
  private readonly s: string;
  private i = 0;
  /** Open groups (their start index), innermost last. */
  private depth = 0;
  /** Whether the last item can take a repetition operator (false at start, after `(` or `|`). */
  private hasArgument = false;
  /** Start of the last repetition operator, when the previous item was one. */
  private lastRepeat: number | undefined;
  private readonly names = new Set<string>();

  constructor(s: string) {
    this.s = s;
  }

  parse(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      const start = this.i;
      switch (c) {
        case '(':
          this.openGroup();
          this.hasArgument = false;
          this.lastRepeat = undefined;
          continue;
        case '|':
          this.i++;
          this.hasArgument = false;
          this.lastRepeat = undefined;
          continue;
        case ')':
          if (this.depth === 0) throw new Re2SyntaxError('unexpected )', s);
          this.depth--;
          this.i++;
          this.item();
          continue;
        case '*':
        case '+':
        case '?':
          this.i++;
          if (s[this.i] === '?') this.i++;
          this.repeat(start);
          continue;
        case '{': {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(this.i));
          if (!m) {
            this.i++;
            this.item();
            continue;
          }
          this.i += m[0].length;
          if (s[this.i] === '?') this.i++;
          const min = Number(m[1]);
          const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
          if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
            if (!this.hasArgument) throw new Re2SyntaxError('missing argument to repetition operator', s.slice(start, this.i));
            throw new Re2SyntaxError('invalid repeat count', s.slice(start, this.i));
          }
          this.repeat(start);
          continue;
        }
        case '[':
          this.charClass();
          this.item();
          continue;
        case '\\':
          this.escape(false);
          this.item();
          continue;
        default:
          this.i++;
          this.item();
      }
    }
    if (this.depth > 0) throw new Re2SyntaxError('missing closing )', s);
  }

  private item(): void {
    this.hasArgument = true;
    this.lastRepeat = undefined;
  }

  private repeat(start: number): void {
    const op = this.s.slice(start, this.i);
    if (this.lastRepeat !== undefined) throw new Re2SyntaxError('invalid nested repetition operator', this.s.slice(this.lastRepeat, this.i));
    if (!this.hasArgument) throw new Re2SyntaxError('missing argument to repetition operator', op);
    this.lastRepeat = start;
  }

  /** `(`, `(?:`, `(?P<name>`, `(?<name>`, `(?flags)`, `(?flags:` (Go's parsePerlFlags). */
  private openGroup(): void {
    const s = this.s;
    const rest = s.slice(this.i);
    if (rest[1] !== '?') {
      this.i++;
      this.depth++;
      return;
    }
    if (rest.startsWith('(?P<') || rest.startsWith('(?<')) {
      const nameStart = rest.startsWith('(?P<') ? 4 : 3;
      const end = rest.indexOf('>');
      if (end < 0) throw new Re2SyntaxError('invalid named capture', rest);
      const name = rest.slice(nameStart, end);
      if (!/^\w+$/.test(name)) throw new Re2SyntaxError('invalid named capture', rest.slice(0, end + 1));
      if (this.names.has(name)) throw new Re2SyntaxError('duplicate capture group name', name);
      this.names.add(name);
      this.i += end + 1;
      this.depth++;
      return;
    }
    let negated = false;
    let sawFlag = false;
    for (let j = 2; j < rest.length; j++) {
      const c = rest[j];
      if ('imsU'.includes(c)) sawFlag = true;
      else if (c === '-' && !negated) {
        negated = true;
        sawFlag = false;
      } else if ((c === ':' || c === ')') && (!negated || sawFlag)) {
        this.i += j + 1;
        if (c === ':') this.depth++;
        return;
      } else throw new Re2SyntaxError('invalid or unsupported Perl syntax', rest.slice(0, j + 1));
    }
    throw new Re2SyntaxError('invalid or unsupported Perl syntax', rest);
  }

  /** One escape at `\`; inside a class, only what may stand in a class. */
  private escape(inClass: boolean): void {
    const s = this.s;
    const start = this.i;
    this.i++;
    if (this.i >= s.length) throw new Re2SyntaxError('trailing backslash at end of expression', '');
    const c = s[this.i++];
    const invalid = (): never => {
      throw new Re2SyntaxError('invalid escape sequence', s.slice(start, this.i));
    };
    if (!inClass && 'AbBz'.includes(c)) return;
    if (!inClass && c === 'Q') {
      const end = s.indexOf('\\E', this.i);
      this.i = end < 0 ? s.length : end + 2;
      return;
    }
    if ('dDsSwW'.includes(c)) return;
    if (c === 'p' || c === 'P') {
      let name: string;
      if (s[this.i] === '{') {
        const close = s.indexOf('}', this.i);
        if (close < 0) throw new Re2SyntaxError('invalid character class range', s.slice(start));
        name = s.slice(this.i + 1, close).replace(/^\^/, '');
        this.i = close + 1;
      } else {
        if (this.i >= s.length) throw new Re2SyntaxError('invalid character class range', s.slice(start));
        name = s[this.i++];
      }
      if (!knownUnicodeClass(name)) throw new Re2SyntaxError('invalid character class range', s.slice(start, this.i));
      return;
    }
    if ('afnrtv'.includes(c)) return;
    if (c >= '1' && c <= '7') {
      // A single digit would be a backreference (not in RE2); octal needs another digit.
      if (!/[0-7]/.test(s[this.i] ?? '')) invalid();
    }
    if (c >= '0' && c <= '7') {
      for (let k = 0; k < 2 && /[0-7]/.test(s[this.i] ?? ''); k++) this.i++;
      return;
    }
    if (c === 'x') {
      if (s[this.i] === '{') {
        const m = /^\{([0-9A-Fa-f]+)\}/.exec(s.slice(this.i));
        if (!m || parseInt(m[1], 16) > 0x10ffff) {
          this.i = Math.min(s.length, s.indexOf('}', this.i) < 0 ? s.length : s.indexOf('}', this.i) + 1);
          invalid();
        }
        this.i += m![0].length;
        return;
      }
      if (!/^[0-9A-Fa-f]{2}/.test(s.slice(this.i))) {
        this.i = Math.min(s.length, this.i + 2);
        invalid();
      }
      this.i += 2;
      return;
    }
    if (c.charCodeAt(0) < 0x80 && !isAlnum(c)) return;
    invalid();
  }

  /** `[...]` with ranges, escapes and `[:name:]`; `]` first is a literal. */
  private charClass(): void {
    const s = this.s;
    const start = this.i;
    this.i++;
    if (s[this.i] === '^') this.i++;
    let first = true;
    while (this.i < s.length && (s[this.i] !== ']' || first)) {
      first = false;
      if (s.startsWith('[:', this.i)) {
        const close = s.indexOf(':]', this.i + 2);
        if (close >= 0) {
          const name = s.slice(this.i + 2, close).replace(/^\^/, '');
          if (!POSIX_CLASSES.has(name)) throw new Re2SyntaxError('invalid character class range', s.slice(this.i, close + 2));
          this.i = close + 2;
          continue;
        }
      }
      const loStart = this.i;
      const lo = this.classChar();
      if (lo === undefined) continue;
      if (s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
        this.i++;
        const hi = this.classChar();
        if (hi === undefined || hi < lo) throw new Re2SyntaxError('invalid character class range', s.slice(loStart, this.i));
      }
    }
    if (this.i >= s.length) throw new Re2SyntaxError('missing closing ]', s.slice(start));
    this.i++;
  }

  /** One character of a class: its code point, or undefined for a class escape (\d, \pL). */
  private classChar(): number | undefined {
    const s = this.s;
    if (s[this.i] !== '\\') {
      const cp = s.codePointAt(this.i)!;
      this.i += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const start = this.i;
    const c = s[this.i + 1];
    this.escape(true);
    if (c !== undefined && 'dDsSwWpP'.includes(c)) return undefined;
    const text = s.slice(start, this.i);
    const simple: Record<string, number> = { '\\a': 7, '\\f': 12, '\\n': 10, '\\r': 13, '\\t': 9, '\\v': 11 };
    if (simple[text] !== undefined) return simple[text];
    if (/^\\x\{/.test(text)) return parseInt(text.slice(3, -1), 16);
    if (/^\\x/.test(text)) return parseInt(text.slice(2), 16);
    if (/^\\[0-7]/.test(text)) return parseInt(text.slice(1), 8);
    return text.codePointAt(1);
  }
}

/** The first RE2 syntax error of a pattern, or undefined when Go's regexp (RE2) accepts it. */
export function re2SyntaxError(pattern: string): Re2SyntaxError | undefined {
  try {
    new Parser(pattern).parse();
    return undefined;
  } catch (err) {
    if (err instanceof Re2SyntaxError) return err;
    throw err;
  }
}
