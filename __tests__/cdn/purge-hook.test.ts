/**
 * The `purge` option of createCache: every kind of invalidation, hard and soft, reaches the
 * hook after it was applied here; failures are retried within a bound and never fail the write.
 */
import { type Cache, type CacheEvents, InvalidOptionError, MemoryStore, PurgeError, type PurgeRequest, createCache, invalidateCharacterCache } from '../../lib';

function recording(fail: (request: PurgeRequest, call: number) => boolean = () => false): { calls: PurgeRequest[]; hook: (request: PurgeRequest) => Promise<void> } {
  const calls: PurgeRequest[] = [];
  return {
    calls,
    hook: async (request) => {
      calls.push(request);
      if (fail(request, calls.length)) throw new Error(`stand-in refused call ${calls.length}`);
    },
  };
}

function errorsOf(cache: Cache): Array<CacheEvents['error']> {
  const errors: Array<CacheEvents['error']> = [];
  cache.on('error', (payload) => errors.push(payload));
  return errors;
}

describe('the purge hook', () => {
  let cache: Cache;
  afterEach(async () => {
    await cache.close();
  });

  test.each([false, true])('hears every kind of invalidation, after it was applied here (soft: %s)', async (soft) => {
    const { calls, hook } = recording();
    cache = createCache({ store: new MemoryStore(), namespace: 'app', purge: hook });
    let seenAtPurge: unknown = 'not called';
    await cache.set('character:1', { name: 'Ada' }, { ttl: 60, tags: ['team:blue'] });
    const probe = recording();
    // The entry is gone by the time the hook hears of it.
    const checking = createCache({
      store: new MemoryStore(),
      purge: async (request) => {
        seenAtPurge = await checking.get('character:1');
        await probe.hook(request);
      },
    });
    await checking.set('character:1', 'old', { ttl: 60 });
    await checking.invalidateScope('character', '1');
    await checking.flushPurges();
    await checking.close();
    expect(seenAtPurge).toBeUndefined();
    expect(probe.calls).toHaveLength(1);

    await cache.delete('character:1', { soft });
    await cache.invalidatePattern('character:*', { soft });
    await cache.invalidateTags(['team:blue', 'leaderboard'], { soft });
    await cache.invalidateScope('character', 'char_1', { soft });
    await cache.invalidateScope('content', undefined, { soft });
    await cache.invalidate({ scopes: [['team', 'a:b']], soft });
    await invalidateCharacterCache('char_2', { soft, cache });
    await cache.flushPurges();
    expect(calls.slice(0, 6)).toEqual([
      { kind: 'key', key: 'character:1', surrogateKeys: [], soft },
      { kind: 'pattern', pattern: 'character:*', surrogateKeys: [], soft },
      { kind: 'tags', tags: ['team:blue', 'leaderboard'], surrogateKeys: ['team:blue', 'leaderboard'], soft },
      { kind: 'scope', scope: 'character', id: 'char_1', surrogateKeys: ['character:char_1'], soft },
      { kind: 'scope', scope: 'content', surrogateKeys: ['content'], soft },
      // Ids are escaped as the route tags escape them, so the keys match what answers carried.
      { kind: 'scope', scope: 'team', id: 'a%3Ab', surrogateKeys: ['team:a%3Ab'], soft },
    ]);
    expect(calls.slice(6)).toContainEqual({ kind: 'scope', scope: 'character', id: 'char_2', surrogateKeys: ['character:char_2'], soft });
    await cache.clear();
    await cache.flushPurges();
    expect(calls.at(-1)).toEqual({ kind: 'clear', surrogateKeys: [], soft: false });
  });

  test('a failing purge is retried with a bound, reported as error events, and never fails the write', async () => {
    const { calls, hook } = recording((_request, call) => call <= 2);
    cache = createCache({ purge: { hook, attempts: 3, retryDelayMs: 5 } });
    const errors = errorsOf(cache);
    await expect(cache.invalidateTags(['catalog'])).resolves.toBe(0);
    await cache.flushPurges();
    expect(calls.map((request) => request.tags)).toEqual([['catalog'], ['catalog'], ['catalog']]);
    expect(errors.map(({ operation, error }) => [operation, error instanceof PurgeError && error.attempt, error instanceof PurgeError && error.willRetry])).toEqual([
      ['purge', 1, true],
      ['purge', 2, true],
    ]);
    expect((errors[0]?.error as PurgeError).cause).toBeInstanceOf(Error);
  });

  test('after the last attempt the purge is dropped, with a final error; later purges still go', async () => {
    const { calls, hook } = recording((request) => request.tags?.[0] === 'broken');
    cache = createCache({ purge: { hook, attempts: 2, retryDelayMs: 1 } });
    const errors = errorsOf(cache);
    await cache.invalidateTags(['broken']);
    await cache.invalidateTags(['fine']);
    await cache.flushPurges();
    expect(calls.filter((request) => request.tags?.[0] === 'broken')).toHaveLength(2);
    expect(calls.filter((request) => request.tags?.[0] === 'fine')).toHaveLength(1);
    expect(errors.map(({ error }) => (error as PurgeError).willRetry)).toEqual([true, false]);
  });

  test('a hook that throws synchronously is retried like one that rejects', async () => {
    let calls = 0;
    cache = createCache({
      purge: {
        hook: () => {
          calls++;
          if (calls === 1) throw new Error('sync failure');
        },
        retryDelayMs: 1,
      },
    });
    const errors = errorsOf(cache);
    await cache.invalidateScope('character', '1');
    await cache.flushPurges();
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
  });

  test('the queue is bounded: past maxQueued it collapses into one overflowed clear, with an error', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls: PurgeRequest[] = [];
    cache = createCache({
      purge: {
        hook: async (request) => {
          calls.push(request);
          await gate;
        },
        maxQueued: 3,
      },
    });
    const errors = errorsOf(cache);
    for (let i = 0; i < 10; i++) await cache.invalidateTags([`t${i}`]);
    release();
    await cache.flushPurges();
    // t0 was being sent; t1-t3 filled the queue; t4 collapsed it, t7 again; t8 and t9 came after.
    expect(calls.map((request) => request.tags?.[0] ?? request.kind)).toEqual(['t0', 'clear', 't8', 't9']);
    expect(calls[1]).toEqual({ kind: 'clear', soft: false, surrogateKeys: [], overflowed: true });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(PurgeError);
  });

  test('close gives queued retries one last attempt', async () => {
    const { calls, hook } = recording((_request, call) => call === 1);
    cache = createCache({ purge: { hook, retryDelayMs: 60_000 } });
    errorsOf(cache);
    await cache.invalidateTags(['catalog']);
    // The first attempt fails; its retry waits a minute, but close sends it now.
    for (let tick = 0; calls.length === 0 && tick < 1_000; tick++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toHaveLength(1);
    await cache.close();
    expect(calls).toHaveLength(2);
  });

  test('an invalidation the store cannot take now (journaled, pending) is purged all the same', async () => {
    class DownForTags extends MemoryStore {
      override deleteTags(): Promise<number> {
        return Promise.reject(new Error('store down'));
      }
    }
    const { calls, hook } = recording();
    cache = createCache({ store: new DownForTags(), purge: hook });
    const errors = errorsOf(cache);
    await expect(cache.invalidate({ tags: ['catalog'] })).resolves.toEqual({ removed: 0, pending: true });
    await cache.flushPurges();
    expect(calls).toEqual([{ kind: 'tags', tags: ['catalog'], surrogateKeys: ['catalog'], soft: false }]);
    expect(errors.some(({ operation }) => operation === 'deleteTags')).toBe(true);
  });

  test('a hook that never answers does not hold close() (bounded)', async () => {
    let calls = 0;
    cache = createCache({
      purge: () => {
        calls++;
        return new Promise<void>(() => undefined);
      },
    });
    await cache.invalidateTags(['catalog']);
    await expect(cache.close()).resolves.toBeUndefined();
    expect(calls).toBe(1);
  }, 10_000);

  test('an invalidation that fails here (a closed store) is not purged', async () => {
    const { calls, hook } = recording();
    cache = createCache({ purge: hook });
    await cache.close();
    await expect(cache.invalidateTags(['x'])).rejects.toThrow();
    await cache.flushPurges();
    expect(calls).toEqual([]);
  });

  test('invalid purge options name the option', () => {
    expect(() => createCache({ purge: 'https://cdn' as never })).toThrow(InvalidOptionError);
    expect(() => createCache({ purge: { hook: undefined as never } })).toThrow(/purge\.hook/);
    expect(() => createCache({ purge: { hook: () => undefined, attempts: 0 } })).toThrow(/purge\.attempts/);
    expect(() => createCache({ purge: { hook: () => undefined, retries: 3 } as never })).toThrow(/retries/);
  });
});
