import { InvalidationPendingError, RateLimitedError, RedisStore, createCache } from '../../lib';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { restartFromSnapshot, saveSnapshot } from './persisted-restart';

// A private redis-server per test: they stop it, which must not touch the run's shared one.
jest.setTimeout(30_000);

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function deadRedisStore(): Promise<RedisStore> {
  server = await startRedisServer();
  const store = new RedisStore({ url: server.url, operationTimeoutMs: 300 });
  expect(await store.ready()).toBe(true);
  await server.stop();
  return store;
}

describe('the breaker wrapper reports each failure exactly once', () => {
  test('reads and writes never reject and are reported once each; a failed invalidation is journaled, opens the breaker, and is reported once', async () => {
    const cache = createCache({ store: await deadRedisStore(), breaker: { failureThreshold: 50 } });
    const errors: string[] = [];
    const degraded: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    cache.on('degraded', ({ store }) => degraded.push(store));
    expect(await cache.get('k')).toBeUndefined();
    expect(errors).toEqual(['get']);
    expect(await cache.set('k', 1)).toBe(false);
    expect(errors).toEqual(['get', 'set']);
    expect(degraded).toEqual([]);
    // The first failed invalidation opens the breaker at once (far below the threshold): the
    // store may still hold what it covers, so it serves nothing until the journal is replayed.
    expect(await cache.delete('k')).toBe(false);
    expect(degraded).toEqual(['redis']);
    await expect(cache.invalidatePattern('k*', { strict: true })).rejects.toBeInstanceOf(InvalidationPendingError);
    expect(errors).toEqual(['get', 'set', 'delete', 'deletePattern']);
    expect(cache.stats()).toMatchObject({ errors: 4, writeErrors: 1 });
    await cache.close();
  });

  test('once open, reads and writes report nothing and invalidations resolve, each reported as pending (journaled for recovery)', async () => {
    const cache = createCache({ store: await deadRedisStore(), breaker: { failureThreshold: 1, coolDownMs: 60_000, probeIntervalMs: 60_000 } });
    const errors: string[] = [];
    const degraded: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    cache.on('degraded', ({ store }) => degraded.push(store));
    expect(await cache.get('k')).toBeUndefined();
    expect(degraded).toEqual(['redis']);
    for (let i = 0; i < 10; i++) {
      expect(await cache.get(`k${i}`)).toBeUndefined();
      await cache.set(`k${i}`, i); // skipped: nothing to report
      expect(await cache.delete(`k${i}`)).toBe(false);
    }
    expect(errors).toEqual(['get', ...Array.from({ length: 10 }, () => 'delete')]);
    await cache.close();
  });
});

describe('while open without a fallback', () => {
  test('the origin limiter keeps limiting in-process instead of letting every call through', async () => {
    const cache = createCache({ store: await deadRedisStore(), breaker: { failureThreshold: 1, coolDownMs: 60_000, probeIntervalMs: 60_000 } });
    cache.on('error', () => undefined);
    await cache.get('trip');
    let calls = 0;
    const limiter = { name: 'upstream', minIntervalMs: 60_000 };
    expect(await cache.wrap('a', async () => ++calls, { limiter })).toBe(1);
    await expect(cache.wrap('b', async () => ++calls, { limiter })).rejects.toBeInstanceOf(RateLimitedError);
    expect(calls).toBe(1);
    await cache.close();
  });

  test('concurrent misses for one key still call the loader once (the fill lock stands in locally)', async () => {
    const cache = createCache({ store: await deadRedisStore(), breaker: { failureThreshold: 1, coolDownMs: 60_000, probeIntervalMs: 60_000 } });
    cache.on('error', () => undefined);
    await cache.get('trip');
    let calls = 0;
    const loader = async (): Promise<number> => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return calls;
    };
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.wrap('cold', loader)));
    expect(new Set(answers)).toEqual(new Set([1]));
    expect(calls).toBe(1);
    await cache.close();
  });
});

describe('the invalidation journal', () => {
  test('past journalLimit, recovery clears the primary instead of replaying, so nothing invalidated comes back', async () => {
    server = await startRedisServer();
    const port = server.port;
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 300 });
    expect(await store.ready()).toBe(true);
    const cache = createCache({ store, namespace: 'j', breaker: { failureThreshold: 1, journalLimit: 2 } });
    const transitions: string[] = [];
    cache.on('error', () => undefined);
    cache.on('degraded', () => transitions.push('degraded'));
    cache.on('recovered', () => transitions.push('recovered'));
    // Redis will come back holding entries the journal can no longer name.
    const { Redis } = await import('ioredis');
    const seed = new Redis(server.url);
    await seed.set('j:c', 'stale bytes');
    await seed.set('j:other', 'stale bytes');
    seed.disconnect();
    const snapshot = await saveSnapshot(server.url);
    await server.stop();
    await cache.get('trip');
    for (const key of ['a', 'b', 'c']) await cache.delete(key);
    server = await restartFromSnapshot(port, snapshot);
    const raw = new Redis(server.url);
    for (let i = 0; i < 250 && transitions.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transitions).toEqual(['degraded', 'recovered']);
    expect(await raw.dbsize()).toBe(0);
    raw.disconnect();
    await cache.close();
  });
});
