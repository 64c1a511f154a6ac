import { type Cache, Cacheable, createCache, invalidateCharacterCache } from '../../lib';

// @Cacheable({ scope }) keys an id the way the invalidation helpers do: an id with ':' is escaped,
// so invalidating 'a:b' reaches its entry and invalidating 'a' does not.

describe('@Cacheable({ scope }) with an id containing ":"', () => {
  const cache: Cache = createCache();
  afterAll(() => cache.close());

  const rows = new Map([['a:b', 'Ada'], ['a', 'Grace']]);
  let reads = 0;

  class Service {
    @Cacheable({ scope: 'character', ttl: 60, cache })
    async get(id: string): Promise<string | undefined> {
      reads++;
      return rows.get(id);
    }
  }

  test("invalidateCharacterCache('a') leaves a:b cached; invalidateCharacterCache('a:b') removes it", async () => {
    const service = new Service();
    expect(await service.get('a:b')).toBe('Ada');
    expect(await service.get('a')).toBe('Grace');
    expect(reads).toBe(2);
    await invalidateCharacterCache('a', { cache });
    expect(await service.get('a:b')).toBe('Ada');
    expect(reads).toBe(2); // a:b still cached
    expect(await service.get('a')).toBe('Grace');
    expect(reads).toBe(3); // a reloaded
    await invalidateCharacterCache('a:b', { cache });
    rows.set('a:b', 'Ada Lovelace');
    expect(await service.get('a:b')).toBe('Ada Lovelace');
    expect(reads).toBe(4);
  });
});
