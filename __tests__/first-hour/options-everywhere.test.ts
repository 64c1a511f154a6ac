// Options are checked on every call that takes them, not only at construction: unknown names
// get the same "did you mean" error, a bare number where an options object belongs says
// `{ ttl: N }` in seconds, and a numeric TTL over 30 days names the seconds/milliseconds mix-up.
import {
  CacheEvict,
  Cacheable,
  InvalidOptionError,
  MAX_NUMERIC_TTL_SECONDS,
  MemoryStore,
  cacheResponse,
  createCache,
  getCachedQuery,
  invalidateAfter,
  invalidateCharacterCache,
} from '../../lib';

// Options passed through `loose` type-check as plain JavaScript would run.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (value: unknown): any => value;

async function rejection(run: () => Promise<unknown>): Promise<InvalidOptionError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, nothing was thrown');
}

describe('options checked on every call', () => {
  const store = new MemoryStore();
  const cache = createCache({ store });
  afterAll(() => cache.close());

  test.each([
    ['Cache.set', () => cache.set('d', 1, loose({ tll: 1 })), 'tll', 'ttl'],
    ['Cache.wrap', () => cache.wrap('w', () => 1, loose({ tll: 5 })), 'tll', 'ttl'],
    ['Cache.wrap', () => cache.wrap('w', () => 1, loose({ staleIfEror: 5 })), 'staleIfEror', 'staleIfError'],
    ['Cache.delete', () => cache.delete('d', loose({ sfot: true })), 'sfot', 'soft'],
    ['Cache.invalidateScope', () => cache.invalidateScope('character', '1', loose({ sfot: true })), 'sfot', 'soft'],
    ['Cache.invalidateTags', () => cache.invalidateTags(['t'], loose({ strcit: true })), 'strcit', 'strict'],
    ['Cache.invalidatePattern', () => cache.invalidatePattern('x:*', loose({ sotf: true })), 'sotf', 'soft'],
    ['invalidation helper', () => invalidateCharacterCache('1', loose({ sfot: true, cache })), 'sfot', 'soft'],
    ['getCachedQuery', () => getCachedQuery('q', () => 1, loose({ cache, tll: 5 })), 'tll', 'ttl'],
  ])('%s rejects an unknown name with a did-you-mean (%#)', async (owner, run, option, guess) => {
    const error = await rejection(run);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`unknown option '${option}' of ${owner}; did you mean '${guess}'?`);
  });

  test('nothing was written by the rejected calls', async () => {
    expect(await store.get('d')).toBeUndefined();
    expect(await store.get('w')).toBeUndefined();
  });

  test("a positional TTL (cache-manager's habit) is a typed error saying { ttl: N } in seconds", async () => {
    const set = await rejection(() => cache.set('a', 'v', loose(1)));
    expect(set.option).toBe('options');
    expect(set.message).toContain('write { ttl: 1 }');
    expect(set.message).toContain('seconds');
    const wrap = await rejection(() => cache.wrap('a', () => 'v', loose(300)));
    expect(wrap.message).toContain('write { ttl: 300 }');
    expect(await store.get('a')).toBeUndefined();
  });

  test('a numeric TTL over 30 days throws naming the mix-up; a duration string is accepted', async () => {
    // One hour written in milliseconds, by habit.
    const route = (() => {
      try {
        cacheResponse({ ttl: 3_600_000 });
      } catch (error) {
        return error as InvalidOptionError;
      }
      throw new Error('cacheResponse({ ttl: 3600000 }) was accepted');
    })();
    expect(route).toBeInstanceOf(InvalidOptionError);
    expect(route.option).toBe('ttl');
    expect(route.message).toContain('3600000 is 41.7 days: TTLs are in seconds, not milliseconds');
    expect(route.message).toContain('{ ttl: 3600 }');
    expect(route.message).toContain("duration string ('42d')");
    await expect(cache.set('long', 1, { ttl: 3_888_000 })).rejects.toThrow('not milliseconds');
    await expect(cache.wrap('long', () => 1, { ttl: MAX_NUMERIC_TTL_SECONDS + 1 })).rejects.toThrow(InvalidOptionError);
    expect(() => createCache({ defaultTtl: 86_400_000 })).toThrow('not milliseconds');
    // Exactly 30 days as a number, and longer lifetimes as duration strings, are fine.
    await expect(cache.set('month', 1, { ttl: MAX_NUMERIC_TTL_SECONDS })).resolves.toBe(true);
    await expect(cache.set('long', 1, { ttl: '45d' })).resolves.toBe(true);
    expect(await cache.ttl('long')).toBeGreaterThan(44 * 86_400);
    expect(() => cacheResponse({ ttl: '45d' })).not.toThrow();
  });

  test('invalidateAfter and the decorators reject unknown names and long numeric TTLs too', () => {
    expect(() => invalidateAfter({ tags: ['t'] }, loose({ timeoutMS: 5 }))).toThrow("did you mean 'timeoutMs'?");
    expect(() => Cacheable(loose({ key: 'k', ttl: 5, condtion: () => true }))).toThrow("did you mean 'condition'?");
    expect(() => CacheEvict(loose({ scope: 'character', sfot: true }))).toThrow("did you mean 'soft'?");
    expect(() => Cacheable({ key: 'k', ttl: 3_600_000 })).toThrow('not milliseconds');
  });
});
