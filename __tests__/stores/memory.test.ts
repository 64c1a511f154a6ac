import { InvalidOptionError, MemoryStore } from '../../lib';
import { runStoreContract } from '../../lib/testing';
import { ALL_CAPABILITIES, JEST } from './contract-api';

runStoreContract(JEST, 'MemoryStore', async () => new MemoryStore(), { capabilities: ALL_CAPABILITIES });

describe('MemoryStore bounds', () => {
  test('maxEntries evicts the least recently used entry', async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await store.set(key, Buffer.from(key), 60_000);
    await store.get('a'); // a is now the most recently used
    await store.set('d', Buffer.from('d'), 60_000);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBeDefined();
    expect(store.size).toBe(3);
  });

  test('maxBytes holds: the byte count never exceeds it, and an oversized entry is not stored', async () => {
    const store = new MemoryStore({ maxBytes: 10_000 });
    for (let i = 0; i < 100; i++) {
      await store.set(`k${i}`, Buffer.alloc(1_000), 60_000);
      expect(store.bytes).toBeLessThanOrEqual(10_000);
    }
    expect(store.size).toBeLessThan(10);
    await store.set('huge', Buffer.alloc(20_000), 60_000);
    expect(await store.get('huge')).toBeUndefined();
  });

  test.each([
    [{ maxEntries: 0 }, 'maxEntries'],
    [{ maxEntries: 1.5 }, 'maxEntries'],
    [{ maxBytes: -1 }, 'maxBytes'],
    [{ maxBytes: Number.POSITIVE_INFINITY }, 'maxBytes'],
  ])('invalid options %p throw InvalidOptionError naming %s', (options, option) => {
    expect(() => new MemoryStore(options)).toThrow(InvalidOptionError);
    try {
      new MemoryStore(options);
    } catch (err) {
      expect((err as InvalidOptionError).option).toBe(option);
    }
  });
});

test('reading entries schedules no timers, however busy the hit path', async () => {
  // lru-cache's default TTL clock keeps a reading for 1 ms and schedules a timer to drop it:
  // under load that is a timer per millisecond of hits.
  const store = new MemoryStore();
  await store.set('a', Buffer.from('x'), 60_000);
  const timers = jest.spyOn(global, 'setTimeout');
  try {
    for (let i = 0; i < 5; i++) {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // Past the clock's 1 ms, then one turn of the event loop lets any timer of it fire.
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(store.readNow('a')).toEqual({ value: Buffer.from('x'), softAt: undefined });
      expect(await store.get('a')).toEqual(Buffer.from('x'));
    }
    expect(timers).not.toHaveBeenCalled();
  } finally {
    timers.mockRestore();
    await store.close();
  }
});
