import { type Cache, InvalidOptionError, configureCache, createCache, getCachedQuery, getDefaultCache } from '../lib';
import { decodeEntry } from '../lib/serializer';
import { STORE_KINDS, closeStoreClients } from './helpers/stores';

afterAll(closeStoreClients);

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORE_KINDS)('getCachedQuery on $name', (kind) => {
  let cache: Cache;
  let previous: Cache;
  beforeEach(() => {
    previous = getDefaultCache();
    cache = configureCache({ store: kind.make(), namespace: 'query' });
  });
  afterEach(async () => {
    configureCache(previous);
    await cache.close();
  });

  test('100 concurrent calls for one cold key run the loader once', async () => {
    let calls = 0;
    const loader = async (): Promise<{ id: string }> => {
      calls++;
      await delay(30);
      return { id: 'char_1' };
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => getCachedQuery('character:char_1', loader, 'character')));
    expect(calls).toBe(1);
    expect(results.every((r) => r.id === 'char_1')).toBe(true);
    expect(await getCachedQuery('character:char_1', loader)).toEqual({ id: 'char_1' });
    expect(calls).toBe(1);
    expect(await cache.get('character:char_1')).toEqual({ id: 'char_1' });
  });

  test('a throwing loader fails every waiting caller, is not cached, and runs again on the next request', async () => {
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await delay(10);
      if (calls < 3) throw new Error(`attempt ${calls} failed`);
      return 'third time lucky';
    };
    const first = await Promise.allSettled(Array.from({ length: 10 }, () => getCachedQuery('flaky', loader)));
    expect(first.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'attempt 1 failed')).toBe(true);
    expect(calls).toBe(1);
    await expect(getCachedQuery('flaky', loader)).rejects.toThrow('attempt 2 failed');
    expect(await cache.get('flaky')).toBeUndefined();
    expect(await getCachedQuery('flaky', loader)).toBe('third time lucky');
    expect(calls).toBe(3);
  });

  test('typed values round-trip: Date, Buffer, BigInt, Map, Set, nested objects and arrays', async () => {
    const value = {
      at: new Date('2026-11-21T10:00:00.123Z'),
      raw: Buffer.from([0, 1, 254, 255]),
      big: 12345678901234567890n,
      byId: new Map([['a', { seen: new Date(0) }]]),
      tags: new Set(['x', 'y']),
      nested: [{ list: [1, 'two', null, { deep: true }] }],
    };
    await getCachedQuery('typed', async () => value);
    const loaded = await getCachedQuery('typed', async (): Promise<typeof value> => {
      throw new Error('should be a hit');
    });
    expect(loaded).toEqual(value);
    expect(loaded).not.toBe(value);
    expect(loaded.at).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(loaded.raw)).toBe(true);
    expect(typeof loaded.big).toBe('bigint');
    expect(loaded.byId.get('a')?.seen).toBeInstanceOf(Date);
    expect(loaded.tags).toBeInstanceOf(Set);
  });

  test('undefined is never stored; null only with cacheNull; condition can skip a result', async () => {
    let calls = 0;
    const nothing = async (): Promise<undefined> => {
      calls++;
      return undefined;
    };
    await getCachedQuery('u', nothing);
    await getCachedQuery('u', nothing);
    expect(calls).toBe(2);
    await getCachedQuery('n', async () => null);
    expect(await cache.store.get('query:n')).toBeUndefined();
    await getCachedQuery('n', async () => null, { cacheNull: true });
    expect(await cache.store.get('query:n')).toBeDefined();
    await getCachedQuery('empty', async () => [] as number[], { condition: (list) => list.length > 0 });
    expect(await cache.store.get('query:empty')).toBeUndefined();
    await getCachedQuery('full', async () => [1], { condition: (list) => list.length > 0 });
    expect(await cache.get('full')).toEqual([1]);
  });

  test('a TTL profile or seconds sets the expiry; an unknown profile rejects', async () => {
    const lifetime = async (key: string): Promise<number> => {
      const entry = decodeEntry((await cache.store.get(`query:${key}`)) as Buffer);
      return entry.expiresAt - entry.createdAt;
    };
    await getCachedQuery('ttl', async () => 1, 'character');
    expect(await lifetime('ttl')).toBe(300_000);
    await getCachedQuery('ttl2', async () => 1, { ttl: 2 });
    expect(await lifetime('ttl2')).toBe(2_000);
    await getCachedQuery('ttl3', async () => 1);
    expect(await lifetime('ttl3')).toBe(60_000);
    await expect(getCachedQuery('ttl4', async () => 1, 'no_such_profile')).rejects.toThrow(InvalidOptionError);
  });
});

describe('getCachedQuery arguments', () => {
  test('uses options.cache instead of the default cache', async () => {
    const own = createCache();
    await getCachedQuery('k', async () => 'mine', { cache: own });
    expect(await own.get('k')).toBe('mine');
    expect(await getDefaultCache().get('k')).toBeUndefined();
    await own.close();
  });

  test('a bad key or loader rejects with a TypeError', async () => {
    await expect(getCachedQuery('', async () => 1)).rejects.toThrow(TypeError);
    await expect(getCachedQuery(42 as never, async () => 1)).rejects.toThrow(TypeError);
    await expect(getCachedQuery('k', 'not a function' as never)).rejects.toThrow(TypeError);
  });
});
