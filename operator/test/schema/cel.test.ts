import { CelError, compileCel } from '../../src/schema/cel.js';

const run = (rule: string, self: unknown, oldSelf?: unknown) =>
  compileCel(rule).evaluate(self, oldSelf);

describe('the CEL subset', () => {
  test('compares scalars, lists and maps by value', () => {
    expect(run('self == oldSelf', { a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(run('self == oldSelf', { a: [1] }, { a: [2] })).toBe(false);
    expect(run('self != oldSelf', 'a', 'b')).toBe(true);
    expect(run('self >= oldSelf', 3, 4)).toBe(false);
    expect(run('self.a < self.b && self.b <= 5', { a: 1, b: 5 })).toBe(true);
    expect(run('-1 < self', 0)).toBe(true);
  });

  test('has() tests presence; selecting an absent field is an error, unless guarded', () => {
    expect(run('has(self.a)', { a: 0 })).toBe(true);
    expect(run('has(self.a)', {})).toBe(false);
    expect(() => run('self.a == 1', {})).toThrow(CelError);
    expect(run('!has(self.a) || self.a == 1', {})).toBe(true);
    expect(run('has(self.a) && self.a.b == 1', {})).toBe(false);
  });

  test('size, matches, in, all and exists', () => {
    expect(run('size(self) <= 3 && self.size() == 3', 'abc')).toBe(true);
    expect(run("self.matches('^[a-z]+$')", 'abc')).toBe(true);
    expect(run("self.matches('^[a-z]+$')", 'a1')).toBe(false);
    expect(run("self.all(k, k in ['a', 'b'])", { a: '1', b: '2' })).toBe(true);
    expect(run("self.all(k, k in ['a', 'b'])", { a: '1', c: '2' })).toBe(false);
    expect(run('self.exists(x, x > 2)', [1, 2, 3])).toBe(true);
    expect(run("'k' in self", { k: 1 })).toBe(true);
  });

  test('knows which rules are transition rules', () => {
    expect(compileCel('self == oldSelf').usesOldSelf).toBe(true);
    expect(compileCel('self.a == 1').usesOldSelf).toBe(false);
  });

  test('refuses what it cannot evaluate instead of guessing', () => {
    expect(() => compileCel('self.a + 1 == 2')).toThrow(CelError);
    expect(() => compileCel('self.startsWith("x")').evaluate('x')).toThrow(CelError);
    expect(() => compileCel('self ? 1 : 2')).toThrow(CelError);
    expect(() => run('self.a', { a: 1 })).toThrow(/not bool/);
  });
});
