// has, mget, mset, ttl(key) and namespace(name) on Cache, on the memory store and on a real
// Redis; and `enabled: false` making the engine a pass-through.
import { type Cache, InvalidOptionError, MemoryStore, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (value: unknown): any => value;

describe.each(STORE_KINDS)('Cache everyday methods on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make() });
  });
  afterEach(() => cache.close());

  test('has: true for a fresh entry, false for a missing or removed one; it is not a read', async () => {
    await cache.set('character:1', { name: 'Ada' });
    expect(await cache.has('character:1')).toBe(true);
    expect(await cache.has('character:2')).toBe(false);
    await cache.delete('character:1');
    expect(await cache.has('character:1')).toBe(false);
    expect(cache.stats().hits + cache.stats().misses).toBe(0);
  });

  test('ttl(key): the remaining lifetime in seconds, undefined when absent', async () => {
    await cache.set('session:1', 'x', { ttl: 600 });
    const left = await cache.ttl('session:1');
    expect(left).toBeGreaterThan(500);
    expect(left).toBeLessThanOrEqual(600);
    await cache.set('session:2', 'y', { ttl: '2h' });
    expect(await cache.ttl('session:2')).toBeGreaterThan(3600);
    expect(await cache.ttl('session:none')).toBeUndefined();
  });

  test('mset then mget: values in the order asked, undefined for misses, per-entry ttl and tags', async () => {
    await expect(
      cache.mset([
        { key: 'a', value: 1, ttl: 100 },
        { key: 'b', value: { deep: [new Date(0)] }, tags: ['t'] },
      ]),
    ).resolves.toBe(true);
    expect(await cache.mget(['b', 'missing', 'a'])).toEqual([{ deep: [new Date(0)] }, undefined, 1]);
    expect(await cache.ttl('a')).toBeLessThanOrEqual(100);
    await cache.invalidateTags(['t']);
    expect(await cache.mget(['a', 'b'])).toEqual([1, undefined]);
  });

  test('mset checks every entry like set does', async () => {
    await expect(cache.mset([{ key: 'a', value: 1 }, loose({ key: 'b', value: 2, tll: 5 })])).rejects.toThrow("unknown option 'tll' of Cache.mset entry; did you mean 'ttl'?");
    await expect(cache.mset(loose({ a: 1 }))).rejects.toBeInstanceOf(InvalidOptionError);
    expect(await cache.has('a')).toBe(false);
  });

  test('namespace(name): a child sharing the store, its keys and clear() under its prefix', async () => {
    const users = cache.namespace('users');
    await users.set('1', 'ada');
    await cache.set('1', 'root');
    expect(await users.get('1')).toBe('ada');
    expect(await cache.get('users:1')).toBe('ada');
    expect(users.namespacePrefix).toBe('users:');
    const deeper = users.namespace('admins');
    await deeper.set('1', 'grace');
    expect(await cache.get('users:admins:1')).toBe('grace');
    await users.clear();
    expect(await cache.get('users:1')).toBeUndefined();
    expect(await cache.get('users:admins:1')).toBeUndefined();
    expect(await cache.get('1')).toBe('root');
    // Closing a child leaves the shared store open for the parent.
    await users.close();
    expect(await cache.get('1')).toBe('root');
  });
});

describe('namespace(name) input and a disabled cache', () => {
  test('a child needs a non-empty name', async () => {
    const cache = createCache();
    expect(() => cache.namespace('')).toThrow(InvalidOptionError);
    expect(() => cache.namespace(loose(5))).toThrow(InvalidOptionError);
    await cache.close();
  });

  test('enabled: false: get misses, set stores nothing, wrap calls its loader every time', async () => {
    const store = new MemoryStore();
    const cache = createCache({ store, enabled: false });
    expect(await cache.set('k', 1)).toBe(false);
    expect(await store.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
    let calls = 0;
    await cache.wrap('w', () => ++calls);
    await cache.wrap('w', () => ++calls);
    expect(calls).toBe(2);
    expect(await cache.has('w')).toBe(false);
    // A child of a disabled cache is disabled too.
    expect(cache.namespace('child').enabled).toBe(false);
    await cache.close();
  });
});
