import { type Cache, CacheEvict, Cacheable, InvalidOptionError, createCache } from '../../lib';

// @CacheEvict({ soft: true }) marks the evicted entries stale instead of removing them.

describe('@CacheEvict({ soft })', () => {
  const cache: Cache = createCache();
  afterAll(() => cache.close());

  const rows = new Map([['c1', 'Ada']]);
  let reads = 0;

  class Service {
    @Cacheable({ scope: 'character', ttl: 60, cache })
    async get(id: string): Promise<string | undefined> {
      reads++;
      return rows.get(id);
    }

    @CacheEvict({ scope: 'character', id: (args: unknown[]) => args[0] as string, soft: true, cache })
    async rename(id: string, name: string): Promise<void> {
      rows.set(id, name);
    }
  }

  test('the entry is kept but reads as stale; a reader without a window loads the new value', async () => {
    const service = new Service();
    expect(await service.get('c1')).toBe('Ada');
    await service.rename('c1', 'Ada Lovelace');
    // Still there for a caller with a stale window, stale as of the eviction...
    const found = await cache.peek('character:c1', 30_000);
    expect(found?.stale).toBe(true);
    expect(found?.entry.kind === 'value' && found.entry.value).toBe('Ada');
    // ...and a miss for @Cacheable, which has none.
    expect(await service.get('c1')).toBe('Ada Lovelace');
    expect(reads).toBe(2);
  });

  test('a soft that is not a boolean is refused when the decorator is made', () => {
    expect(() => CacheEvict({ scope: 'character', soft: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
  });
});
