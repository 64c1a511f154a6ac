import { type Cache, RedisStore, createCache } from '../lib';
import { encodeEntry } from '../lib/serializer';
import { freePort } from './helpers/redis-server';
import { STORE_KINDS, closeStoreClients } from './helpers/stores';

afterAll(closeStoreClients);

describe.each(STORE_KINDS)('Cache on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: 'ns' });
  });
  afterEach(() => cache.close());

  test('set/get round-trips typed values; absent keys are undefined', async () => {
    const value = { at: new Date('2026-11-21T00:00:00Z'), raw: Buffer.from('hi'), n: 1n, tags: new Set(['a']) };
    expect(await cache.set('character:1', value, { ttl: 'character' })).toBe(true);
    const out = await cache.get<typeof value>('character:1');
    expect(out).toEqual(value);
    expect(out?.at).toBeInstanceOf(Date);
    expect(await cache.get('character:2')).toBeUndefined();
  });

  test('keys carry the namespace in the store', async () => {
    await cache.set('k', 'v');
    expect(await cache.store.get('ns:k')).toBeDefined();
    expect(await cache.store.get('k')).toBeUndefined();
  });

  test('delete and invalidatePattern remove entries and count them', async () => {
    await cache.set('character:1', 1);
    await cache.set('character:2', 2);
    await cache.set('content:1', 3);
    expect(await cache.delete('character:1')).toBe(true);
    expect(await cache.delete('character:1')).toBe(false);
    expect(await cache.invalidatePattern('character:*')).toBe(1);
    expect(await cache.get('content:1')).toBe(3);
    await cache.clear();
    expect(await cache.get('content:1')).toBeUndefined();
  });

  test('wrap runs the loader once for concurrent callers and then serves from the cache', async () => {
    let calls = 0;
    const loader = async (): Promise<{ id: number }> => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { id: 7 };
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.wrap('query:cold', loader, { ttl: 60 })));
    expect(calls).toBe(1);
    expect(results.every((r) => r.id === 7)).toBe(true);
    expect(await cache.wrap('query:cold', loader)).toEqual({ id: 7 });
    expect(calls).toBe(1);
  });

  test('wrap never stores errors or undefined, and stores null only when asked', async () => {
    let calls = 0;
    const failing = async (): Promise<never> => {
      calls++;
      throw new Error('origin down');
    };
    await expect(cache.wrap('e', failing)).rejects.toThrow('origin down');
    await expect(cache.wrap('e', failing)).rejects.toThrow('origin down');
    expect(calls).toBe(2);
    await cache.wrap('u', async () => undefined);
    expect(await cache.store.get('ns:u')).toBeUndefined();
    await cache.wrap('n', async () => null);
    expect(await cache.store.get('ns:n')).toBeUndefined();
    await cache.wrap('n', async () => null, { cacheNull: true });
    expect(await cache.store.get('ns:n')).toBeDefined();
  });

  test('a corrupt entry is a miss and an error event, not a crash, and is dropped', async () => {
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    await cache.store.set('ns:bad', Buffer.from('not an envelope'), 60_000);
    expect(await cache.get('bad')).toBeUndefined();
    expect(await cache.wrap('bad', async () => 'fresh')).toBe('fresh');
    expect(await cache.get('bad')).toBe('fresh');
    expect(errors).toContain('decode');
  });

  test('an entry past its expiry time is a miss even if the store still holds it', async () => {
    const now = Date.now();
    await cache.store.set('ns:old', encodeEntry({ kind: 'value', value: 1, createdAt: now - 5_000, expiresAt: now - 1 }), 60_000);
    expect(await cache.get('old')).toBeUndefined();
  });

  test('stats count hits, misses and sets through events', async () => {
    const seen: string[] = [];
    cache.on('hit', () => seen.push('hit'));
    cache.on('miss', () => seen.push('miss'));
    await cache.get('s');
    await cache.set('s', 1);
    await cache.get('s');
    expect(seen).toEqual(['miss', 'hit']);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, sets: 1, errors: 0, hitRate: 0.5 });
  });
});

describe('Cache on a dead Redis', () => {
  test('without a breaker: reads are misses, writes are skipped, wrap answers from the loader; errors are events; invalidation is journaled, not rejected', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, redisOptions: { retryStrategy: () => null } });
    const cache = createCache({ store, breaker: false });
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(await cache.wrap('k', async () => 'from origin')).toBe('from origin');
    expect(await cache.invalidatePattern('*')).toBe(0);
    await expect(cache.invalidatePattern('*', { strict: true })).rejects.toThrow(/journaled/);
    expect(errors).toEqual(expect.arrayContaining(['get', 'set', 'deletePattern']));
    expect(cache.stats().errors).toBeGreaterThanOrEqual(4);
    await cache.close();
  });
});
