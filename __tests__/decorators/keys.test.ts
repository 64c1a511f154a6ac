import { hashArgs, scopeKey, templateKey } from '../../lib/decorators/keys';

describe('method keys', () => {
  test('hashArgs is stable for deep-equal arguments and tells types apart', () => {
    expect(hashArgs([{ a: 1, b: [1, 2] }])).toBe(hashArgs([{ b: [1, 2], a: 1 }]));
    expect(hashArgs([new Map([['x', 1], ['y', 2]])])).toBe(hashArgs([new Map([['y', 2], ['x', 1]])]));
    expect(hashArgs([new Set([1, 2])])).toBe(hashArgs([new Set([2, 1])]));
    expect(hashArgs(['a', undefined])).toBe(hashArgs(['a']));
    expect(hashArgs([{ a: 1, b: undefined }])).toBe(hashArgs([{ a: 1 }]));
    const distinct = [
      [1],
      ['1'],
      [1n],
      [true],
      [null],
      [[1]],
      [{ a: 1 }],
      [new Date(1)],
      [Buffer.from('1')],
      [new Uint8Array([1])],
      [new Map([[1, 1]])],
      [new Set([1])],
      [0],
      [-0],
      [undefined, 1],
      [[undefined]],
    ];
    expect(new Set(distinct.map((args) => hashArgs(args))).size).toBe(distinct.length);
    expect(hashArgs([])).toMatch(/^[0-9a-f]{40}$/);
  });

  test('class instances differ from plain objects with the same fields; toJSON is honoured', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    expect(hashArgs([new Point(1)])).not.toBe(hashArgs([{ x: 1 }]));
    const id = { toJSON: () => '507f1f77bcf86cd799439011', internal: Math.random() };
    expect(hashArgs([id])).toBe(hashArgs([{ toJSON: () => '507f1f77bcf86cd799439011', internal: 0 }]));
  });

  test('functions, symbols and circular arguments cannot be keys', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => hashArgs([() => 1])).toThrow(TypeError);
    expect(() => hashArgs([Symbol('s')])).toThrow(TypeError);
    expect(() => hashArgs([circular])).toThrow(/circular/);
    const shared = { n: 1 };
    expect(() => hashArgs([shared, shared, [shared]])).not.toThrow();
  });

  test('templates fill in arguments and nested properties, hashing objects', () => {
    const key = templateKey('user:{0.id}:posts:{1}:{2}');
    expect(key(undefined, [{ id: 'u1' }, 3, 'x'])).toBe('user:u1:posts:3:x');
    expect(key(undefined, [{ id: 'u1' }, { page: 2 }, null])).toMatch(/^user:u1:posts:[0-9a-f]{40}:null$/);
    expect(templateKey('constant')(undefined, [1])).toBe('constant');
  });

  test('scope keys', () => {
    const key = scopeKey('character');
    expect(key(undefined, ['c1'])).toBe('character:c1');
    expect(key(undefined, [42])).toBe('character:42');
    expect(key(undefined, ['a:b'])).toBe('character:a%3Ab'); // escaped as the invalidation helpers do
    expect(key(undefined, ['c1', undefined])).toBe('character:c1');
    expect(key(undefined, ['c1', { full: true }])).toBe(`character:c1:${hashArgs([{ full: true }])}`);
    expect(key(undefined, [{ id: 'c1' }])).toBe(`character:${hashArgs([{ id: 'c1' }])}`);
    expect(key(undefined, [])).toBe(`character:${hashArgs([])}`);
  });
});
