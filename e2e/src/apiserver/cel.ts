// A small CEL interpreter for `x-kubernetes-validations`: enough for the rules CRDs commonly
// carry (immutability via `self == oldSelf`, comparisons, `has()`, `size()`, string
// predicates, `all`/`exists`/`map`/`filter` macros, ternaries, `in`). Not supported: the type
// checker and its cost limits, `optionalOldSelf`, timestamps/durations/quantities, and the
// Kubernetes library functions (`isSorted`, `url`, `ip`, `format.*`, ...); a rule that fails to
// parse is skipped rather than rejected, see e2e/README.md.

type Value = unknown;
type Env = Record<string, Value>;
type Fn = (env: Env) => Value;

export class CelError extends Error {}

interface Token {
  kind: 'num' | 'str' | 'id' | 'op' | 'end';
  text: string;
  value?: Value;
}

const OPS = [
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '!',
  '?',
  ':',
  '.',
  ',',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+\.\d+(e[+-]?\d+)?|\d+u?|0x[0-9a-fA-F]+)/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', text: num[0], value: Number(num[0].replace(/u$/, '')) });
      i += num[0].length;
      continue;
    }
    const raw = /^[rR]?(['"])/.exec(src.slice(i));
    if (raw) {
      const isRaw = raw[0].length === 2;
      const quote = raw[1];
      let j = i + raw[0].length;
      let s = '';
      while (j < src.length && src[j] !== quote) {
        if (src[j] === '\\' && !isRaw) {
          const n = src[j + 1];
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new CelError('unterminated string');
      out.push({ kind: 'str', text: s, value: s });
      i = j + 1;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ kind: 'id', text: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelError(`unexpected character '${c}'`);
    out.push({ kind: 'op', text: op });
    i += op.length;
  }
  out.push({ kind: 'end', text: '' });
  return out;
}

const isObj = (v: Value): v is Record<string, Value> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function equal(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
  }
  return a === b;
}

function size(v: Value): number {
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (isObj(v)) return Object.keys(v).length;
  throw new CelError('size() needs a string, list or map');
}

function member(target: Value, name: string): Value {
  if (!isObj(target) || !(name in target)) throw new CelError(`no such key: ${name}`);
  return target[name];
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.pos];
  }
  private next(): Token {
    return this.toks[this.pos++];
  }
  private accept(text: string): boolean {
    const t = this.peek();
    if ((t.kind === 'op' || t.kind === 'id') && t.text === text) {
      this.pos++;
      return true;
    }
    return false;
  }
  private expect(text: string): void {
    if (!this.accept(text))
      throw new CelError(`expected '${text}' but found '${this.peek().text}'`);
  }

  parse(): Fn {
    const f = this.expr();
    if (this.peek().kind !== 'end') throw new CelError(`unexpected '${this.peek().text}'`);
    return f;
  }

  private expr(): Fn {
    const cond = this.or();
    if (!this.accept('?')) return cond;
    const a = this.expr();
    this.expect(':');
    const b = this.expr();
    return (env) => (truthy(cond(env)) ? a(env) : b(env));
  }

  private or(): Fn {
    let left = this.and();
    while (this.accept('||')) {
      const l = left;
      const r = this.and();
      left = (env) => truthy(l(env)) || truthy(r(env));
    }
    return left;
  }

  private and(): Fn {
    let left = this.rel();
    while (this.accept('&&')) {
      const l = left;
      const r = this.rel();
      left = (env) => truthy(l(env)) && truthy(r(env));
    }
    return left;
  }

  private rel(): Fn {
    let left = this.add();
    for (;;) {
      const t = this.peek();
      const op = t.text;
      if (
        !(['==', '!=', '<', '<=', '>', '>='].includes(op) && t.kind === 'op') &&
        !(t.kind === 'id' && op === 'in')
      ) {
        return left;
      }
      this.pos++;
      const l = left;
      const r = this.add();
      left = (env) => compare(op, l(env), r(env));
    }
  }

  private add(): Fn {
    let left = this.mul();
    for (;;) {
      const op = this.peek().text;
      if (this.peek().kind !== 'op' || (op !== '+' && op !== '-')) return left;
      this.pos++;
      const l = left;
      const r = this.mul();
      left = (env) => arith(op, l(env), r(env));
    }
  }

  private mul(): Fn {
    let left = this.unary();
    for (;;) {
      const op = this.peek().text;
      if (this.peek().kind !== 'op' || !['*', '/', '%'].includes(op)) return left;
      this.pos++;
      const l = left;
      const r = this.unary();
      left = (env) => arith(op, l(env), r(env));
    }
  }

  private unary(): Fn {
    if (this.accept('!')) {
      const f = this.unary();
      return (env) => !truthy(f(env));
    }
    if (this.accept('-')) {
      const f = this.unary();
      return (env) => -(f(env) as number);
    }
    return this.postfix();
  }

  private postfix(): Fn {
    let target = this.primary();
    for (;;) {
      if (this.accept('.')) {
        const name = this.next();
        if (name.kind !== 'id') throw new CelError('expected a field name after "."');
        if (this.accept('(')) target = this.method(target, name.text);
        else {
          const t = target;
          target = (env) => member(t(env), name.text);
        }
      } else if (this.accept('[')) {
        const idx = this.expr();
        this.expect(']');
        const t = target;
        target = (env) => {
          const v = t(env);
          const i = idx(env);
          if (Array.isArray(v)) {
            if (typeof i !== 'number' || i < 0 || i >= v.length)
              throw new CelError('index out of range');
            return v[i];
          }
          return member(v, String(i));
        };
      } else return target;
    }
  }

  private args(): Fn[] {
    const args: Fn[] = [];
    if (this.accept(')')) return args;
    do args.push(this.expr());
    while (this.accept(','));
    this.expect(')');
    return args;
  }

  private method(target: Fn, name: string): Fn {
    if (['all', 'exists', 'exists_one', 'map', 'filter'].includes(name)) {
      const v = this.next();
      if (v.kind !== 'id') throw new CelError(`${name}() needs a variable name`);
      this.expect(',');
      const body = this.expr();
      this.expect(')');
      return (env) => macro(name, target(env), v.text, body, env);
    }
    const args = this.args();
    return (env) =>
      callMethod(
        name,
        target(env),
        args.map((a) => a(env)),
      );
  }

  private primary(): Fn {
    const t = this.next();
    if (t.kind === 'num' || t.kind === 'str') return () => t.value;
    if (t.kind === 'id') {
      if (t.text === 'true') return () => true;
      if (t.text === 'false') return () => false;
      if (t.text === 'null') return () => null;
      if (t.text === 'has' && this.accept('(')) {
        const inner = this.hasTarget();
        this.expect(')');
        return inner;
      }
      if (this.accept('(')) {
        const args = this.args();
        return (env) =>
          callFunction(
            t.text,
            args.map((a) => a(env)),
          );
      }
      return (env) => {
        if (!(t.text in env)) throw new CelError(`undeclared reference to '${t.text}'`);
        return env[t.text];
      };
    }
    if (t.text === '(') {
      const f = this.expr();
      this.expect(')');
      return f;
    }
    if (t.text === '[') {
      const items: Fn[] = [];
      if (!this.accept(']')) {
        do items.push(this.expr());
        while (this.accept(','));
        this.expect(']');
      }
      return (env) => items.map((f) => f(env));
    }
    if (t.text === '{') {
      const entries: [Fn, Fn][] = [];
      if (!this.accept('}')) {
        do {
          const k = this.expr();
          this.expect(':');
          entries.push([k, this.expr()]);
        } while (this.accept(','));
        this.expect('}');
      }
      return (env) => Object.fromEntries(entries.map(([k, v]) => [String(k(env)), v(env)]));
    }
    throw new CelError(`unexpected '${t.text}'`);
  }

  /** `has(a.b.c)`: everything up to the last field must exist; the last is tested. */
  private hasTarget(): Fn {
    const save = this.pos;
    let depth = 0;
    let lastDot = -1;
    for (let i = this.pos; this.toks[i].kind !== 'end'; i++) {
      const x = this.toks[i].text;
      if (x === '(' || x === '[') depth++;
      else if (x === ')' || x === ']') {
        if (depth === 0) break;
        depth--;
      } else if (x === '.' && depth === 0) lastDot = i;
    }
    if (lastDot < 0) throw new CelError('has() needs a field selection');
    const sub = new Parser(this.toks.slice(save, lastDot).concat([{ kind: 'end', text: '' }]));
    const target = sub.parse();
    this.pos = lastDot + 1;
    const field = this.next().text;
    return (env) => {
      const v = target(env);
      return isObj(v) && field in v && v[field] !== null;
    };
  }
}

function truthy(v: Value): boolean {
  if (typeof v !== 'boolean') throw new CelError('no matching overload: expected a bool');
  return v;
}

function compare(op: string, a: Value, b: Value): boolean {
  switch (op) {
    case '==':
      return equal(a, b);
    case '!=':
      return !equal(a, b);
    case 'in':
      if (Array.isArray(b)) return b.some((x) => equal(x, a));
      if (isObj(b)) return String(a) in b;
      throw new CelError("no matching overload for 'in'");
  }
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) {
    throw new CelError(`no matching overload for '${op}'`);
  }
  const x = a as number | string;
  const y = b as number | string;
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

function arith(op: string, a: Value, b: Value): Value {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (op === '+' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (typeof a !== 'number' || typeof b !== 'number')
    throw new CelError(`no matching overload for '${op}'`);
  const ints = Number.isInteger(a) && Number.isInteger(b);
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (ints && b === 0) throw new CelError('division by zero');
      return ints ? Math.trunc(a / b) : a / b;
    default:
      if (b === 0) throw new CelError('modulus by zero');
      return a % b;
  }
}

function macro(name: string, target: Value, v: string, body: Fn, env: Env): Value {
  const items = Array.isArray(target) ? target : isObj(target) ? Object.keys(target) : null;
  if (!items) throw new CelError(`${name}() needs a list or map`);
  const run = (x: Value): Value => body({ ...env, [v]: x });
  switch (name) {
    case 'all':
      return items.every((x) => truthy(run(x)));
    case 'exists':
      return items.some((x) => truthy(run(x)));
    case 'exists_one':
      return items.filter((x) => truthy(run(x))).length === 1;
    case 'map':
      return items.map(run);
    default:
      return items.filter((x) => truthy(run(x)));
  }
}

function callMethod(name: string, target: Value, args: Value[]): Value {
  const str = (): string => {
    if (typeof target !== 'string') throw new CelError(`${name}() needs a string`);
    return target;
  };
  switch (name) {
    case 'size':
      return size(target);
    case 'startsWith':
      return str().startsWith(String(args[0]));
    case 'endsWith':
      return str().endsWith(String(args[0]));
    case 'contains':
      return str().includes(String(args[0]));
    case 'matches':
      return new RegExp(String(args[0])).test(str());
    case 'lowerAscii':
      return str().toLowerCase();
    case 'upperAscii':
      return str().toUpperCase();
    case 'trim':
      return str().trim();
    case 'split':
      return str().split(String(args[0]));
    case 'join':
      if (!Array.isArray(target)) throw new CelError('join() needs a list');
      return target.join(args.length > 0 ? String(args[0]) : '');
    default:
      throw new CelError(`undeclared reference to '${name}'`);
  }
}

function callFunction(name: string, args: Value[]): Value {
  const [a] = args;
  switch (name) {
    case 'size':
      return size(a);
    case 'int':
    case 'uint': {
      const n = typeof a === 'string' ? Number(a) : (a as number);
      if (!Number.isFinite(n)) throw new CelError(`cannot convert to ${name}`);
      return Math.trunc(n);
    }
    case 'double':
      return Number(a);
    case 'string':
      return typeof a === 'string' ? a : JSON.stringify(a);
    case 'bool':
      return a === true || a === 'true';
    case 'matches':
      return new RegExp(String(args[1])).test(String(a));
    default:
      throw new CelError(`undeclared reference to '${name}'`);
  }
}

const cache = new Map<string, Fn | CelError>();

/** Compiles a rule once; a rule outside the supported subset yields a CelError. */
export function compileCel(rule: string): Fn | CelError {
  let f = cache.get(rule);
  if (!f) {
    try {
      f = new Parser(tokenize(rule)).parse();
    } catch (e) {
      f = e instanceof CelError ? e : new CelError(String(e));
    }
    cache.set(rule, f);
  }
  return f;
}

export const referencesOldSelf = (rule: string): boolean => /\boldSelf\b/.test(rule);
