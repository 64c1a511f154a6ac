/**
 * The L1 tier (TieredStore) in front of a store, assembled by createCache({ l1 }). Redis tests
 * use a private redis-server: they read INFO commandstats and stop the server, which would
 * disturb the suites sharing the run's server.
 */
import type { Redis } from 'ioredis';
import express from 'express';
import { type Cache, InvalidOptionError, MemoryStore, RedisStore, cacheResponse, createCache } from '../../lib';
import type { TieredStore } from '../../lib/stores/tiered';
import { listen, request } from '../http/helpers';
import { newRedis } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';

jest.setTimeout(30_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const tierOf = (cache: Cache): TieredStore => cache.store as TieredStore;

/** Every command the server ran so far, INFO itself excepted. */
async function commandCount(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info') total += Number(match[2]);
  }
  return total;
}

/**
 * The command count once Redis has gone quiet: a miss stores its answer after the response has
 * left, and the fill's lock release follows that write, so some of its commands can still be on
 * their way when the client has its answer. Polled until two reads 50 ms apart agree (bounded).
 */
async function settledCommandCount(admin: Redis): Promise<number> {
  let count = await commandCount(admin);
  for (let i = 0; i < 40; i++) {
    await sleep(50);
    const now = await commandCount(admin);
    if (now === count) return count;
    count = now;
  }
  throw new Error('Redis never went quiet');
}

describe('createCache({ l1 }) options', () => {
  test('bad l1 bounds and unknown l1 options throw InvalidOptionError naming the option', () => {
    expect(() => createCache({ l1: { maxEntries: 0 } })).toThrow(InvalidOptionError);
    expect(() => createCache({ l1: { maxEntries: 0 } })).toThrow(/l1\.maxEntries/);
    expect(() => createCache({ l1: { maxBytes: -1 } })).toThrow(/l1\.maxBytes/);
    expect(() => createCache({ l1: { ttlMs: 1.5 } })).toThrow(/l1\.ttlMs/);
    expect(() => createCache({ l1: { maxEntry: 5 } as never })).toThrow(/l1\.maxEntry/);
  });

  test('a bus needs l1 and a RedisStore', () => {
    expect(() => createCache({ bus: {} })).toThrow(/bus/);
    expect(() => createCache({ store: new MemoryStore(), l1: {}, bus: {} })).toThrow(/RedisStore/);
    expect(() => createCache({ l1: {}, bus: { channel: '' } })).toThrow(/bus\.channel/);
  });
});

describe('L1 over a MemoryStore (no bus)', () => {
  test('invalidations by key, pattern, tag, scope and clear remove L1 copies and L2 entries together', async () => {
    const l2 = new MemoryStore();
    const cache = createCache({ store: l2, namespace: 'app', l1: {} });
    const tier = tierOf(cache);
    const fill = async (): Promise<void> => {
      await cache.set('character:1', 'one', { tags: ['team:blue'] });
      await cache.set('character:2', 'two');
      await cache.set('content:1', 'post', { tags: ['character:2'] });
      await cache.set('api:character:x', 'answer', { tags: ['character:1'] });
    };
    await fill();
    expect(tier.holds('app:character:1')).toBe(true);

    await cache.invalidateTags(['team:blue']);
    expect(tier.holds('app:character:1')).toBe(false);
    expect(await l2.get('app:character:1')).toBeUndefined();
    expect(await cache.get('character:2')).toBe('two');

    await cache.invalidatePattern('character:*');
    expect(tier.holds('app:character:2')).toBe(false);
    expect(await l2.get('app:character:2')).toBeUndefined();

    await fill();
    await cache.invalidateScope('character', 2);
    expect(tier.holds('app:character:2')).toBe(false);
    expect(tier.holds('app:content:1')).toBe(false); // tagged character:2
    expect(tier.holds('app:character:1')).toBe(true);
    expect(await cache.get('content:1')).toBeUndefined();

    await cache.invalidateScope('character');
    expect(tier.holds('app:api:character:x')).toBe(false);
    expect(await l2.get('app:api:character:x')).toBeUndefined();

    await fill();
    await cache.delete('character:1');
    expect(tier.holds('app:character:1')).toBe(false);
    await cache.clear();
    expect(tier.size).toBe(0);
    expect(await cache.get('character:2')).toBeUndefined();
    await cache.close();
  });

  test('a copy read back from L2 does not know its tags, so any tag invalidation drops it', async () => {
    const l2 = new MemoryStore();
    const writer = createCache({ store: l2, namespace: 'app' });
    const cache = createCache({ store: l2, namespace: 'app', l1: {} });
    await writer.set('character:1', 'one', { tags: ['team:blue'] });
    expect(await cache.get('character:1')).toBe('one');
    expect(tierOf(cache).holds('app:character:1')).toBe(true);
    await cache.invalidateTags(['team:red']);
    expect(tierOf(cache).holds('app:character:1')).toBe(false);
    expect(await cache.get('character:1')).toBe('one'); // still in L2: only the copy went
    await cache.close();
  });

  test('fills still coalesce through the engine: concurrent wraps of one key call the loader once', async () => {
    const cache = createCache({ store: new MemoryStore(), l1: {} });
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await sleep(20);
      return 'loaded';
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.wrap('hot', loader)));
    expect(values).toEqual(Array(20).fill('loaded'));
    expect(calls).toBe(1);
    expect(tierOf(cache).holds('hot')).toBe(true);
    await cache.close();
  });

  test('L1 is bounded by maxEntries and maxBytes; an entry over maxBytes is only in L2', async () => {
    const l2 = new MemoryStore();
    const cache = createCache({ store: l2, l1: { maxEntries: 3, maxBytes: 2_000 } });
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i);
    expect(tierOf(cache).size).toBe(3);
    await cache.set('big', 'x'.repeat(5_000));
    expect(tierOf(cache).holds('big')).toBe(false);
    expect(await cache.get('big')).toBe('x'.repeat(5_000));
    expect(tierOf(cache).bytes).toBeLessThanOrEqual(2_000);
    await cache.close();
  });

  test('a copy never outlives the entry: ttlMs caps it, and an entry past its TTL is not copied', async () => {
    const l2 = new MemoryStore();
    const cache = createCache({ store: l2, l1: { ttlMs: 100 } });
    await cache.set('k', 'v', { ttl: 60 });
    expect(tierOf(cache).holds('k')).toBe(true);
    await sleep(150);
    expect(tierOf(cache).holds('k')).toBe(false);
    expect(await cache.get('k')).toBe('v');

    // Kept in L2 for stale-while-revalidate past its TTL: the copy must not serve it as fresh.
    const uncapped = createCache({ store: new MemoryStore(), l1: {} });
    await uncapped.set('short', 'v', { ttl: 1, graceMs: 60_000 });
    expect(tierOf(uncapped).holds('short')).toBe(true);
    await sleep(1_100);
    expect(tierOf(uncapped).holds('short')).toBe(false);
    expect(await uncapped.get('short')).toBeUndefined();
    expect((await uncapped.peek('short', 60_000))?.stale).toBe(true);
    expect(tierOf(uncapped).holds('short')).toBe(false);
    await Promise.all([cache.close(), uncapped.close()]);
  });
});

describe('L1 over Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    admin = newRedis(server.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    admin.disconnect();
    await server.stop();
  });

  function client(): Redis {
    const created = newRedis(server.url, { keyPrefix: 'tiered:', enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    clients.push(created);
    return created;
  }

  test('an L1 hit sends no command to Redis (INFO commandstats), for values and for cacheResponse', async () => {
    const redis = client();
    const cache = createCache({ store: new RedisStore({ client: redis, operationTimeoutMs: 2_000 }), namespace: 'hits', l1: {} });
    await tierOf(cache).ready();
    await cache.set('character:1', { name: 'Ada' });
    let origin = 0;
    const app = express();
    app.get('/status', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
      origin++;
      res.json({ ok: true });
    });
    const running = await listen(app);
    expect((await request(running.port, '/status')).headers['x-cache']).toBe('MISS');
    // Commands issued without waiting (the bus's publish after a write) reach Redis before this one.
    await redis.ping();

    const before = await settledCommandCount(admin);
    expect(await cache.get('character:1')).toEqual({ name: 'Ada' });
    const hit = await request(running.port, '/status');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(await commandCount(admin)).toBe(before);
    expect(origin).toBe(1);

    // The same read without L1 does reach Redis (the assertion above can fail).
    const plain = createCache({ store: new RedisStore({ client: client(), operationTimeoutMs: 2_000 }), namespace: 'hits' });
    expect(await plain.get('character:1')).toEqual({ name: 'Ada' });
    expect(await commandCount(admin)).toBeGreaterThan(before);
    await running.close();
    await Promise.all([cache.close(), plain.close()]);
  });

  test('bus: false gives an L1 without a bus: copies are trusted at once (one instance only)', async () => {
    const redis = client();
    const cache = createCache({ store: new RedisStore({ client: redis, operationTimeoutMs: 2_000 }), namespace: 'solo', l1: {}, bus: false });
    const tier = tierOf(cache);
    expect(tier.bus).toBeUndefined();
    expect(tier.busState).toBe('off');
    await cache.set('k', 'v');
    await redis.ping();
    const before = await settledCommandCount(admin);
    expect(await cache.get('k')).toBe('v');
    expect(await commandCount(admin)).toBe(before);
    await cache.close();
  });

  test.each([
    ['by default L1 is bypassed: what it holds is not served', {}, undefined],
    ['with maxStaleMs, L1 keeps answering what it holds (hits, degraded visible)', { maxStaleMs: 600_000 }, 'from-l1'],
  ])('Redis down: %s; on recovery L1 is dropped', async (_name, l1, expected) => {
    const own = await startRedisServer();
    try {
      // A generous timeout: recovery needs one probe to answer in time, on a loaded machine too.
      const store = new RedisStore({ url: own.url, operationTimeoutMs: 1_000 });
      await store.ready();
      const cache = createCache({ store, namespace: 'outage', l1, breaker: { failureThreshold: 2, coolDownMs: 200 } });
      cache.on('error', () => undefined);
      const tier = tierOf(cache);
      await tier.ready();
      await cache.set('held', 'from-l1');
      const degraded = new Promise<void>((resolve) => cache.on('degraded', () => resolve()));
      // The outage's failures are expected, so heard here (unheard, the first would be a process warning).
      const failed: string[] = [];
      cache.on('error', ({ operation }) => failed.push(operation));
      const busDown = new Promise<void>((resolve) => tier.bus?.on('down', () => resolve()));
      await own.stop();
      await busDown;
      // Misses reach the (dead) store and open the breaker.
      while (!tier.degraded) expect(await cache.get(`absent-${Math.random()}`)).toBeUndefined();
      await degraded;
      expect(failed.length).toBeGreaterThan(0);
      const hitsBefore = cache.stats().hits;
      expect(tier.holds('outage:held')).toBe(true);
      expect(await cache.get('held')).toBe(expected);
      expect(cache.stats().hits).toBe(hitsBefore + (expected === undefined ? 0 : 1));

      // Listening before the restart: the background probe can find Redis back (and the cache
      // emit `recovered`) while startRedisServer is still waiting for its first PING.
      const recovered = new Promise<void>((resolve) => cache.on('recovered', () => resolve()));
      let done = false;
      void recovered.then(() => (done = true));
      const restarted = await startRedisServer({ port: own.port });
      try {
        // The breaker probes on the next store call after its cool-down; keep calling until then.
        while (!done) {
          await cache.get(`probe-${Math.random()}`);
          await sleep(50);
        }
        await tier.ready();
        expect(tier.holds('outage:held')).toBe(false);
        await cache.close();
      } finally {
        await restarted.stop();
      }
    } finally {
      await own.stop();
    }
  }, 90_000);
});
