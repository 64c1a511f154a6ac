import { type Cache, type CacheEvents, InvalidOptionError, MemoryStore, createCache, getResponse, setResponse } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

/** A promise the test resolves by hand, to hold a loader in the middle of its work. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe.each(STORE_KINDS)('Cache invalidation on $name', (kind) => {
  let cache: Cache;
  let deletes: Array<CacheEvents['delete']>;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: 'app' });
    deletes = [];
    cache.on('delete', (event) => deletes.push(event));
  });
  afterEach(() => cache.close());

  test('invalidateTags removes entries written by set, wrap and setResponse under a shared tag, and nothing else', async () => {
    await cache.set('character:1', 'one', { tags: ['team:blue'] });
    await cache.wrap('report:q1', async () => 'report', { tags: ['team:blue', 'reports'] });
    await setResponse(cache, 'api:team:abc', { status: 200, headers: {}, body: Buffer.from('{}') }, { tags: ['team:blue'] });
    await cache.set('character:2', 'two', { tags: ['team:red'] });
    expect(await cache.invalidateTags(['team:blue'])).toBe(3);
    expect(await cache.get('character:1')).toBeUndefined();
    expect(await cache.get('report:q1')).toBeUndefined();
    expect(await getResponse(cache, 'api:team:abc')).toBeUndefined();
    expect(await cache.get('character:2')).toBe('two');
    expect(deletes).toEqual([{ tags: ['app:team:blue'], count: 3 }]);
    expect(cache.stats().deletes).toBe(3);
  });

  test('tags are namespaced: another namespace on the same store keeps its entries', async () => {
    const other = createCache({ store: cache.store, namespace: 'other' });
    await cache.set('k', 1, { tags: ['t'] });
    await other.set('k', 2, { tags: ['t'] });
    expect(await cache.invalidateTags(['t'])).toBe(1);
    expect(await other.get('k')).toBe(2);
  });

  test('invalidateScope with an id removes the key, its sub-keys and its tag, not its neighbours', async () => {
    await cache.set('character:char_1', 'c1');
    await cache.set('character:char_1:stats', 's1');
    await cache.set('api:character:h1', 'r1', { tags: ['character:char_1'] });
    await cache.set('character:char_12', 'c12');
    await cache.set('api:character:h2', 'r2', { tags: ['character:char_12'] });
    expect(await cache.invalidateScope('character', 'char_1')).toBe(3);
    expect(await cache.get('character:char_12')).toBe('c12');
    expect(await cache.get('api:character:h2')).toBe('r2');
    expect(deletes).toEqual([{ scope: 'app:character:char_1', count: 3 }]);
  });

  test('ids with glob characters are escaped: a* never touches ab', async () => {
    await cache.set('character:a*', 'star');
    await cache.set('character:ab', 'ab');
    await cache.set('character:ab:stats', 'ab-stats');
    await cache.set('character:a?', 'question');
    await cache.set('api:character:x', 'tagged ab', { tags: ['character:ab'] });
    expect(await cache.invalidateScope('character', 'a*')).toBe(1);
    expect(await cache.invalidateScope('character', 'a[b]')).toBe(0);
    expect(await cache.get('character:ab')).toBe('ab');
    expect(await cache.get('character:ab:stats')).toBe('ab-stats');
    expect(await cache.get('character:a?')).toBe('question');
    expect(await cache.get('api:character:x')).toBe('tagged ab');
  });

  test('invalidateScope without an id removes scope:*, api:scope:* and scope:* tags only', async () => {
    await cache.set('character:1', 1);
    await cache.set('character:2:stats', 2);
    await cache.set('api:character:h', 3);
    await cache.set('feed:home', 4, { tags: ['character:1'] });
    await cache.set('content:1', 5, { tags: ['content:1'] });
    await cache.set('api:content:h', 6);
    await cache.set('characters:list', 7);
    expect(await cache.invalidateScope('character')).toBe(4);
    expect(await cache.get('content:1')).toBe(5);
    expect(await cache.get('api:content:h')).toBe(6);
    expect(await cache.get('characters:list')).toBe(7);
  });

  test('clear with a namespace drops entries and tag indexes of this namespace only', async () => {
    await cache.set('a', 1, { tags: ['t'] });
    await cache.clear();
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('b', 2); // untagged: an old index must not still reach it
    expect(await cache.invalidateTags(['t'])).toBe(0);
    expect(await cache.get('b')).toBe(2);
  });

  test('invalid tags and scopes reject with InvalidOptionError naming the option', async () => {
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toMatchObject({ option: 'tags' });
    await expect(cache.invalidateTags('t' as unknown as string[])).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(cache.invalidateScope('')).rejects.toMatchObject({ option: 'scope' });
    await expect(cache.invalidateScope('character', '')).rejects.toMatchObject({ option: 'id' });
    expect(await cache.invalidateScope('character', 42)).toBe(0);
  });

  describe('no stale write-back', () => {
    test('a wrap loading when invalidateScope runs does not store its old value', async () => {
      const loading = gate();
      const started = gate();
      let source = 'old';
      const slow = cache.wrap('character:1', async () => {
        const read = source; // the origin is read before the write and the invalidation
        started.open();
        await loading.promise;
        return read;
      });
      await started.promise;
      source = 'new';
      await cache.invalidateScope('character', 1);
      loading.open();
      expect(await slow).toBe('old'); // the caller still gets what it loaded
      expect(await cache.get('character:1')).toBeUndefined(); // but it was not put back
      expect(await cache.wrap('character:1', async () => source)).toBe('new');
      expect(await cache.get('character:1')).toBe('new');
    });

    test.each([
      ['a tag', (c: Cache) => c.invalidateTags(['character:1'])],
      ['a pattern', (c: Cache) => c.invalidatePattern('character:*')],
      ['the key', (c: Cache) => c.delete('character:1').then(Number)],
      ['clear', (c: Cache) => c.clear().then(() => 0)],
    ])('invalidating by %s in the middle of a load keeps the old value out', async (_label, invalidate) => {
      const loading = gate();
      const started = gate();
      const slow = cache.wrap(
        'character:1',
        async () => {
          started.open();
          await loading.promise;
          return 'old';
        },
        { tags: ['character:1'] },
      );
      await started.promise;
      await invalidate(cache);
      loading.open();
      await slow;
      expect(await cache.get('character:1')).toBeUndefined();
    });

    test('an unrelated invalidation does not block the write', async () => {
      const loading = gate();
      const started = gate();
      const slow = cache.wrap(
        'character:1',
        async () => {
          started.open();
          await loading.promise;
          return 'v';
        },
        { tags: ['character:1'] },
      );
      await started.promise;
      await cache.invalidateTags(['character:2']);
      await cache.invalidatePattern('content:*');
      await cache.invalidateScope('character', 'a*');
      loading.open();
      await slow;
      expect(await cache.get('character:1')).toBe('v');
    });

    test('a caller arriving after an invalidation does not join the load that started before it', async () => {
      const loading = gate();
      const started = gate();
      let calls = 0;
      const loader = async (): Promise<string> => {
        const n = ++calls;
        started.open();
        if (n === 1) await loading.promise;
        return `load ${n}`;
      };
      const first = cache.wrap('character:1', loader);
      const joined = cache.wrap('character:1', loader); // same generation: joins the flight
      await started.promise;
      await cache.invalidateScope('character', 1);
      const after = cache.wrap('character:1', loader);
      expect(await after).toBe('load 2');
      loading.open();
      expect(await first).toBe('load 1');
      // The first load's write was overtaken by the invalidation, so its value goes to nobody
      // else: the caller that joined it before the invalidation loads anew, and stores that.
      expect(await joined).toBe('load 3');
      expect(calls).toBe(3);
      expect(await cache.get('character:1')).toBe('load 3');
    });

    test('set and setResponse honour a generation taken before the load', async () => {
      const generation = cache.generation();
      await cache.invalidateTags(['character:1']);
      expect(await cache.set('character:1', 'old', { tags: ['character:1'], generation })).toBe(false);
      expect(await setResponse(cache, 'api:x', { status: 200, headers: {}, body: Buffer.from('x') }, { tags: ['character:1'], generation })).toBe(false);
      expect(await cache.set('character:2', 'other', { tags: ['character:2'], generation })).toBe(true);
      expect(await cache.get('character:1')).toBeUndefined();
      expect(await cache.set('character:1', 'direct')).toBe(true); // a write without a generation is authoritative
    });
  });
});

describe('no stale write-back when the store write itself is slow', () => {
  /** A MemoryStore whose writes wait for the test: a write in flight, as on a Cluster. */
  class HeldWritesStore extends MemoryStore {
    held: { promise: Promise<void>; open: () => void } | undefined;
    writeStarted = gate();
    override async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
      this.writeStarted.open();
      await this.held?.promise;
      await super.set(key, value, ttlMs, tags);
    }
  }

  test('an invalidation that begins while the write is in flight removes the entry afterwards', async () => {
    const store = new HeldWritesStore();
    store.held = gate();
    const cache = createCache({ store });
    const pending = cache.wrap('character:1', async () => 'old', { tags: ['character:1'] });
    await store.writeStarted.promise;
    expect(await cache.invalidateTags(['character:1'])).toBe(0); // nothing stored yet: the write is held
    store.held.open();
    expect(await pending).toBe('old');
    expect(await cache.get('character:1')).toBeUndefined();
    await cache.close();
  });
});
