import express from 'express';
import type { AddressInfo } from 'node:net';
import { type Cache, MemoryStore, RateLimitedError, RedisStore, createCache, warmRoutes } from '../../lib';
import { testRedisClient } from '../helpers/redis';
import { startRedisServer } from '../helpers/redis-server';
import { restartFromSnapshot, saveSnapshot } from './persisted-restart';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds, for at most ~5 s: for background work with no event to await. */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error('condition never held');
}

describe.each(STORE_KINDS)('wrap freshness on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make() });
  });
  afterEach(() => cache.close());

  test('stale-while-revalidate: a stale value is returned at once and refreshed once in the background', async () => {
    let version = 0;
    const loader = async (): Promise<number> => ++version;
    const stale: string[] = [];
    cache.on('stale', ({ reason }) => stale.push(reason));
    expect(await cache.wrap('swr', loader, { ttl: 0.05, staleWhileRevalidate: 60 })).toBe(1);
    await sleep(80);
    const answers = await Promise.all(Array.from({ length: 10 }, () => cache.wrap('swr', loader, { ttl: 0.05, staleWhileRevalidate: 60 })));
    expect(answers.every((a) => a === 1)).toBe(true);
    // The refreshed entry lives 50 ms: on a loaded machine a read may come after it expired, so
    // wait for its write (the `set` event), not for a read of it.
    await eventually(() => cache.stats().sets === 2);
    expect(version).toBe(2);
    expect(stale[0]).toBe('revalidate');
    expect(cache.stats().stale).toBe(10);
  });

  test('stale-if-error: a failing origin is replaced by the stale value within the window, and only then', async () => {
    await cache.wrap('sie', async () => 'good', { ttl: 0.05, staleIfError: 60 });
    await sleep(80);
    const failing = async (): Promise<string> => {
      throw new Error('origin down');
    };
    expect(await cache.wrap('sie', failing, { ttl: 0.05, staleIfError: 60 })).toBe('good');
    await cache.wrap('plain', async () => 'good', { ttl: 0.05 });
    await sleep(80);
    await expect(cache.wrap('plain', failing, { ttl: 0.05 })).rejects.toThrow('origin down');
  });

  test('limiter: misses are limited, hits never are; a limited miss serves stale or throws RateLimitedError', async () => {
    let calls = 0;
    const loader = async (): Promise<number> => ++calls;
    const limiter = { name: `spotify-${kind.name}`, minIntervalMs: 60_000 };
    expect(await cache.wrap('a', loader, { limiter })).toBe(1);
    for (let i = 0; i < 50; i++) expect(await cache.wrap('a', loader, { limiter })).toBe(1);
    let caught: unknown;
    try {
      await cache.wrap('b', loader, { limiter });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RateLimitedError);
    expect((caught as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect(calls).toBe(1);

    await cache.wrap('c', loader, { ttl: 0.05, staleIfError: 60, limiter: { name: `other-${kind.name}`, maxPerWindow: 1, windowMs: 60_000 } });
    await sleep(80);
    expect(await cache.wrap('c', loader, { ttl: 0.05, staleIfError: 60, limiter: { name: `other-${kind.name}`, maxPerWindow: 1, windowMs: 60_000 } })).toBe(2);
    expect(calls).toBe(2);
  });

  test('refreshAhead: a fresh value near expiry is returned and refreshed in the background', async () => {
    let version = 0;
    const loader = async (): Promise<number> => ++version;
    await cache.wrap('ahead', loader, { ttl: 1, refreshAhead: 0.9 });
    await sleep(150); // now less than 90% of the TTL is left
    expect(await cache.wrap('ahead', loader, { ttl: 1, refreshAhead: 0.9 })).toBe(1);
    await eventually(async () => (await cache.get('ahead')) === 2);
  });

  test('warm prefills queries and URLs and reports failures without throwing', async () => {
    const app = express();
    let hits = 0;
    app.get('/warm', (_req, res) => {
      hits++;
      res.send('ok');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await cache.warm([
      { key: 'w:1', loader: () => ({ id: 1 }) },
      { key: 'w:2', loader: async () => new Date(0), ttl: 'temp' },
      { key: 'w:3', loader: () => Promise.reject(new Error('nope')) },
    ]);
    const routes = await warmRoutes([{ url: '/warm' }], { baseUrl });
    const withoutBase = await warmRoutes([{ url: '/warm' }]);
    server.close();
    expect(result.ok).toBe(2);
    expect(result.failed.map((f) => f.error.message)).toEqual(['nope']);
    expect(routes.ok).toBe(1);
    expect(withoutBase.failed[0]?.error.message).toMatch(/not an absolute URL/);
    expect(await cache.get('w:1')).toEqual({ id: 1 });
    expect(await cache.get('w:2')).toEqual(new Date(0));
    expect(hits).toBe(1);
  });

  test('invalid freshness options throw InvalidOptionError naming the option', async () => {
    await expect(cache.wrap('x', () => 1, { staleWhileRevalidate: -1 })).rejects.toThrow(/option "staleWhileRevalidate"/);
    await expect(cache.wrap('x', () => 1, { refreshAhead: 1.5 })).rejects.toThrow(/option "refreshAhead"/);
    await expect(cache.wrap('x', () => 1, { limiter: {} })).rejects.toThrow(/option "limiter"/);
    expect(() => createCache({ breaker: { coolDownMs: 0 } })).toThrow(/option "breaker.coolDownMs"/);
    expect(() => createCache({ lock: { waitMs: -1 } })).toThrow(/option "lock.waitMs"/);
  });
});

describe('cross-instance stampede protection on one Redis', () => {
  test('two caches (two instances) filling one cold key call the loader once', async () => {
    const prefix = `stampede-${Date.now()}:`;
    const clients = [testRedisClient({ keyPrefix: prefix }), testRedisClient({ keyPrefix: prefix })];
    const caches = clients.map((client) => createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }) }));
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await sleep(100);
      return 'filled';
    };
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => (caches[i % 2] as Cache).wrap('cold', loader)));
    expect(answers.every((a) => a === 'filled')).toBe(true);
    expect(calls).toBe(1);
    await Promise.all(caches.map((c) => c.close()));
    await Promise.all(clients.map((c) => c.quit()));
  });

  test('a lock whose holder died delays the others only until waitMs, then they call the origin', async () => {
    const client = testRedisClient();
    const store = new RedisStore({ client, operationTimeoutMs: 2_000 });
    const cache = createCache({ store, lock: { waitMs: 200, ttlMs: 60_000, pollMs: 20 } });
    // A holder that takes the lock and never fills nor releases it, as a crashed instance would.
    expect(await store.acquireLock('__lock__:orphan', 60_000)).toBeDefined();
    expect(await cache.wrap('orphan', async () => 'from origin')).toBe('from origin');
    await cache.close();
    await client.quit();
  });
});

describe('fallback store and circuit breaker on a real Redis outage', () => {
  test('the fallback serves while Redis is down; recovery replays invalidations on Redis and drops the fallback', async () => {
    const server = await startRedisServer();
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 500 });
    await store.ready();
    const fallback = new MemoryStore();
    const cache = createCache({ store, fallback, breaker: { failureThreshold: 2, coolDownMs: 100 } });
    const transitions: string[] = [];
    // The outage's failures are expected, so heard here (unheard, the first would be a process warning).
    const failed: string[] = [];
    cache.on('error', ({ operation }) => failed.push(operation));
    cache.on('degraded', () => transitions.push('degraded'));
    cache.on('recovered', () => transitions.push('recovered'));
    await cache.set('kept', 'before');
    await cache.set('invalidated', 'before');
    // Redis will come back holding these, as a persisted one would.
    const snapshot = await saveSnapshot(server.url);

    await server.stop();
    // The first failures trip the breaker; from then on the fallback answers.
    for (let i = 0; i < 3; i++) await cache.get('kept');
    expect(transitions).toEqual(['degraded']);
    expect(failed.length).toBeGreaterThan(0);
    expect(await cache.set('during', 'outage')).toBe(true);
    expect(await cache.get('during')).toBe('outage');
    await cache.delete('invalidated');

    const restarted = await restartFromSnapshot(server.port, snapshot);
    // No request needed: the background probe notices Redis is back.
    await eventually(() => transitions.length === 2);
    expect(transitions).toEqual(['degraded', 'recovered']);
    expect(await cache.get('invalidated')).toBeUndefined(); // the delete issued during the outage was replayed
    expect(await cache.get('kept')).toBe('before');
    expect(await fallback.get('during')).toBeUndefined(); // the fallback was dropped
    await cache.close();
    await restarted.stop();
  });

  test('without a fallback, a degraded store is skipped: misses without waiting, one error per failure before the breaker opens', async () => {
    const server = await startRedisServer();
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 500 });
    await store.ready();
    const cache = createCache({ store, breaker: { failureThreshold: 3, coolDownMs: 60_000 } });
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    await server.stop();
    let calls = 0;
    for (let i = 0; i < 20; i++) expect(await cache.wrap(`k${i}`, async () => ++calls, { ttl: 60 })).toBe(calls);
    expect(calls).toBe(20);
    expect(errors.length).toBe(3);
    await cache.close();
  });
});
