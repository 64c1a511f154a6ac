// Misuse must fail when the class is defined, in both decorator modes. The decorators are typed
// to reject these uses at compile time, so they are applied through a loosely typed alias here,
// as plain JavaScript (or a cast) would apply them.
import { CacheEvict, Cacheable, InvalidOptionError, createCache } from '../../lib';

type Loose = (...args: unknown[]) => void;
const cacheable = Cacheable({ ttl: 60 }) as unknown as Loose;
const evict = CacheEvict({ keys: 'k' }) as unknown as Loose;

describe.each([
  ['Cacheable', cacheable],
  ['CacheEvict', evict],
] as const)('@%s misuse throws a TypeError at decoration time', (name, decorator) => {
  test('on a field', () => {
    expect(() => {
      class WithField {
        @decorator field = 1;
      }
      return WithField;
    }).toThrow(new RegExp(`@${name} can only decorate async methods, but .*field.* is a field`));
  });

  test('on a getter', () => {
    expect(() => {
      class WithGetter {
        @decorator get value(): Promise<number> {
          return Promise.resolve(1);
        }
      }
      return WithGetter;
    }).toThrow(/is a getter/);
  });

  test('on a sync method', () => {
    expect(() => {
      class WithSync {
        @decorator compute(): number {
          return 1;
        }
      }
      return WithSync;
    }).toThrow(/needs an async method, but .*compute.* is not declared async/);
  });

  test('on a class', () => {
    expect(() => {
      @decorator
      class Whole {}
      return Whole;
    }).toThrow(TypeError);
  });

  test('the thrown errors are TypeErrors', () => {
    expect(() => {
      class WithSync {
        @decorator compute(): number {
          return 1;
        }
      }
      return WithSync;
    }).toThrow(TypeError);
  });
});

describe('invalid options throw InvalidOptionError naming the option when the decorator is built', () => {
  const option = (build: () => unknown): string | undefined => {
    try {
      build();
    } catch (error) {
      if (error instanceof InvalidOptionError) return error.option;
      throw error;
    }
    return undefined;
  };

  test('Cacheable', () => {
    expect(option(() => Cacheable({ key: 'a:{0}', scope: 'a' }))).toBe('key');
    expect(option(() => Cacheable({ key: 'character:{id}' }))).toBe('key');
    expect(option(() => Cacheable({ key: '' }))).toBe('key');
    expect(option(() => Cacheable({ scope: '' }))).toBe('scope');
    expect(option(() => Cacheable({ ttl: -5 }))).toBe('ttl');
    expect(option(() => Cacheable({ ttl: 'nope', cache: createCache() }))).toBe('ttl');
    expect(option(() => Cacheable({ cache: {} as never }))).toBe('cache');
    expect(option(() => Cacheable({ condition: true as never }))).toBe('condition');
    expect(option(() => Cacheable({ tags: 'one' as never }))).toBe('tags');
    expect(option(() => Cacheable(null as never))).toBe('Cacheable options');
    // A custom profile may be registered on the default cache later, so it is checked at call time.
    expect(option(() => Cacheable({ ttl: 'custom_profile' }))).toBeUndefined();
    expect(option(() => Cacheable({ key: 'user:{0.id}:{1}', ttl: 'user' }))).toBeUndefined();
  });

  test('CacheEvict', () => {
    expect(option(() => CacheEvict({}))).toBe('keys');
    expect(option(() => CacheEvict({ keys: 42 as never }))).toBe('keys');
    expect(option(() => CacheEvict({ patterns: [''] }))).toBe('patterns');
    expect(option(() => CacheEvict({ keys: 'k', id: 'x' }))).toBe('id');
    expect(option(() => CacheEvict({ scope: 'character', id: {} as never }))).toBe('id');
    expect(option(() => CacheEvict({ scope: 'character', id: ([id]: [string]) => id }))).toBeUndefined();
  });
});
