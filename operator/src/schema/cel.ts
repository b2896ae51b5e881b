/**
 * A small evaluator for the subset of CEL that the CRDs' `x-kubernetes-validations` use, so the
 * operator enforces the same rules the API server does (with the same messages) and a CRD rule
 * outside the subset fails a test instead of being silently skipped.
 *
 * Supported: `self`, `oldSelf`, field selection, `has(x.f)`, `size(x)` / `x.size()`,
 * `x.matches(re)`, `x.all(v, pred)`, `x.exists(v, pred)`, `in`, `! && || == != < <= > >=`, unary minus,
 * parentheses, list literals and int, string, bool and null literals.
 */

export class CelError extends Error {}

type Value = unknown;

type Node =
  | { kind: 'lit'; value: Value }
  | { kind: 'ident'; name: string }
  | { kind: 'select'; target: Node; field: string }
  | { kind: 'has'; target: Node; field: string }
  | { kind: 'call'; name: string; target: Node | null; args: Node[] }
  | { kind: 'comprehension'; name: 'all' | 'exists'; target: Node; variable: string; body: Node }
  | { kind: 'list'; items: Node[] }
  | { kind: 'unary'; op: '!' | '-'; operand: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node };

interface Token {
  type: 'ident' | 'int' | 'string' | 'op' | 'eof';
  text: string;
  value?: Value;
  pos: number;
}

const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '!',
  '-',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ type: 'ident', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(ch)) {
      const m = /^[0-9]+/.exec(source.slice(i))!;
      tokens.push({ type: 'int', text: m[0], value: Number(m[0]), pos: i });
      i += m[0].length;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      let text = '';
      while (j < source.length && source[j] !== ch) {
        if (source[j] === '\\') {
          j++;
        }
        text += source[j];
        j++;
      }
      if (j >= source.length) {
        throw new CelError(`unterminated string at ${i}`);
      }
      tokens.push({ type: 'string', text: source.slice(i, j + 1), value: text, pos: i });
      i = j + 1;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (!op) {
      throw new CelError(`unsupported character '${ch}' at ${i}`);
    }
    tokens.push({ type: 'op', text: op, pos: i });
    i += op.length;
  }
  tokens.push({ type: 'eof', text: '', pos: source.length });
  return tokens;
}

class Parser {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.or();
    this.expect('eof');
    return node;
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    return this.tokens[this.index++];
  }

  private accept(text: string): boolean {
    const t = this.peek();
    if ((t.type === 'op' || t.type === 'ident') && t.text === text) {
      this.index++;
      return true;
    }
    return false;
  }

  private expect(typeOrText: string): Token {
    const t = this.next();
    if (t.type !== typeOrText && t.text !== typeOrText) {
      throw new CelError(`expected ${typeOrText} at ${t.pos}, got '${t.text}'`);
    }
    return t;
  }

  private or(): Node {
    let left = this.and();
    while (this.accept('||')) {
      left = { kind: 'binary', op: '||', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.relation();
    while (this.accept('&&')) {
      left = { kind: 'binary', op: '&&', left, right: this.relation() };
    }
    return left;
  }

  private relation(): Node {
    let left = this.unary();
    for (;;) {
      const op = ['==', '!=', '<=', '>=', '<', '>', 'in'].find((o) => this.accept(o));
      if (!op) {
        return left;
      }
      left = { kind: 'binary', op, left, right: this.unary() };
    }
  }

  private unary(): Node {
    if (this.accept('!')) {
      return { kind: 'unary', op: '!', operand: this.unary() };
    }
    if (this.accept('-')) {
      return { kind: 'unary', op: '-', operand: this.unary() };
    }
    return this.member();
  }

  private member(): Node {
    let node = this.primary();
    while (this.accept('.')) {
      const name = this.expect('ident').text;
      if (!this.accept('(')) {
        node = { kind: 'select', target: node, field: name };
        continue;
      }
      if (name === 'all' || name === 'exists') {
        const variable = this.expect('ident').text;
        this.expect(',');
        const body = this.or();
        this.expect(')');
        node = { kind: 'comprehension', name, target: node, variable, body };
        continue;
      }
      node = { kind: 'call', name, target: node, args: this.args() };
    }
    return node;
  }

  private args(): Node[] {
    const args: Node[] = [];
    if (this.accept(')')) {
      return args;
    }
    do {
      args.push(this.or());
    } while (this.accept(','));
    this.expect(')');
    return args;
  }

  private primary(): Node {
    const t = this.next();
    if (t.type === 'int' || t.type === 'string') {
      return { kind: 'lit', value: t.value };
    }
    if (t.type === 'op' && t.text === '(') {
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (t.type === 'op' && t.text === '[') {
      const items: Node[] = [];
      if (!this.accept(']')) {
        do {
          items.push(this.or());
        } while (this.accept(','));
        this.expect(']');
      }
      return { kind: 'list', items };
    }
    if (t.type === 'ident') {
      if (t.text === 'true' || t.text === 'false') {
        return { kind: 'lit', value: t.text === 'true' };
      }
      if (t.text === 'null') {
        return { kind: 'lit', value: null };
      }
      if (t.text === 'has' && this.accept('(')) {
        const arg = this.member();
        this.expect(')');
        if (arg.kind !== 'select') {
          throw new CelError(`has() needs a field selection at ${t.pos}`);
        }
        return { kind: 'has', target: arg.target, field: arg.field };
      }
      if (this.accept('(')) {
        return { kind: 'call', name: t.text, target: null, args: this.args() };
      }
      return { kind: 'ident', name: t.text };
    }
    throw new CelError(`unexpected '${t.text}' at ${t.pos}`);
  }
}

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: Value, b: Value): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function size(v: Value): number {
  if (typeof v === 'string' || Array.isArray(v)) {
    return v.length;
  }
  if (isMap(v)) {
    return Object.keys(v).length;
  }
  throw new CelError(`size() of ${typeof v}`);
}

function compare(op: string, a: Value, b: Value): boolean {
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) {
    throw new CelError(`no such overload: ${typeof a} ${op} ${typeof b}`);
  }
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function evaluate(node: Node, scope: Record<string, Value>): Value {
  switch (node.kind) {
    case 'lit':
      return node.value;
    case 'ident':
      if (!(node.name in scope)) {
        throw new CelError(`undeclared reference to '${node.name}'`);
      }
      return scope[node.name];
    case 'select': {
      const target = evaluate(node.target, scope);
      if (!isMap(target) || !(node.field in target)) {
        throw new CelError(`no such key: ${node.field}`);
      }
      return target[node.field];
    }
    case 'has': {
      const target = evaluate(node.target, scope);
      return isMap(target) && node.field in target;
    }
    case 'list':
      return node.items.map((item) => evaluate(item, scope));
    case 'call': {
      const args = node.args.map((a) => evaluate(a, scope));
      if (node.name === 'size') {
        return size(node.target ? evaluate(node.target, scope) : args[0]);
      }
      if (node.name === 'matches') {
        const target = node.target ? evaluate(node.target, scope) : args.shift();
        if (typeof target !== 'string' || typeof args[0] !== 'string') {
          throw new CelError('no such overload: matches');
        }
        // RE2 and JavaScript agree on the anchors, classes and quantifiers the CRDs use.
        return new RegExp(args[0]).test(target);
      }
      throw new CelError(`unsupported function ${node.name}()`);
    }
    case 'comprehension': {
      const target = evaluate(node.target, scope);
      const elements = Array.isArray(target) ? target : isMap(target) ? Object.keys(target) : null;
      if (!elements) {
        throw new CelError(`${node.name}() over ${typeof target}`);
      }
      const test = (e: Value) => evaluate(node.body, { ...scope, [node.variable]: e }) === true;
      return node.name === 'all' ? elements.every(test) : elements.some(test);
    }
    case 'unary': {
      const v = evaluate(node.operand, scope);
      if (node.op === '!') {
        if (typeof v !== 'boolean') {
          throw new CelError(`no such overload: !${typeof v}`);
        }
        return !v;
      }
      if (typeof v !== 'number') {
        throw new CelError(`no such overload: -${typeof v}`);
      }
      return -v;
    }
    case 'binary': {
      if (node.op === '&&' || node.op === '||') {
        // CEL's logical operators are commutative over errors; short-circuiting left to right is
        // equivalent for every rule whose guards come first, which is how the CRDs are written.
        const left = evaluate(node.left, scope);
        if (node.op === '&&' ? left === false : left === true) {
          return left;
        }
        const right = evaluate(node.right, scope);
        if (typeof left !== 'boolean' || typeof right !== 'boolean') {
          throw new CelError(`no such overload: ${node.op} on non-bool`);
        }
        return right;
      }
      const left = evaluate(node.left, scope);
      const right = evaluate(node.right, scope);
      switch (node.op) {
        case '==':
          return deepEqual(left, right);
        case '!=':
          return !deepEqual(left, right);
        case 'in':
          if (Array.isArray(right)) {
            return right.some((x) => deepEqual(x, left));
          }
          if (isMap(right) && typeof left === 'string') {
            return left in right;
          }
          throw new CelError(`no such overload: in ${typeof right}`);
        default:
          return compare(node.op, left, right);
      }
    }
  }
}

/** A parsed rule, evaluated against `self` and, for transition rules, `oldSelf`. */
export interface CelProgram {
  readonly source: string;
  /** Transition rules compare with the old object and only run on updates. */
  readonly usesOldSelf: boolean;
  evaluate(self: Value, oldSelf?: Value): boolean;
}

function references(node: Node, name: string): boolean {
  switch (node.kind) {
    case 'ident':
      return node.name === name;
    case 'lit':
      return false;
    case 'select':
    case 'has':
      return references(node.target, name);
    case 'list':
      return node.items.some((n) => references(n, name));
    case 'call':
      return (
        (node.target !== null && references(node.target, name)) ||
        node.args.some((n) => references(n, name))
      );
    case 'comprehension':
      return references(node.target, name) || references(node.body, name);
    case 'unary':
      return references(node.operand, name);
    case 'binary':
      return references(node.left, name) || references(node.right, name);
  }
}

export function compileCel(source: string): CelProgram {
  const ast = new Parser(tokenize(source)).parse();
  const usesOldSelf = references(ast, 'oldSelf');
  return {
    source,
    usesOldSelf,
    evaluate(self, oldSelf) {
      const scope: Record<string, Value> = { self };
      if (usesOldSelf) {
        scope.oldSelf = oldSelf;
      }
      const result = evaluate(ast, scope);
      if (typeof result !== 'boolean') {
        throw new CelError(`rule evaluated to ${typeof result}, not bool`);
      }
      return result;
    },
  };
}
