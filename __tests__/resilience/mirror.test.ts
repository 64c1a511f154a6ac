import { Redis } from 'ioredis';
import request from 'supertest';
import { InvalidOptionError, MemoryStore, RedisStore, SqliteStore, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { startRedisServer } from '../helpers/redis-server';
import { restartFromSnapshot, saveSnapshot } from './persisted-restart';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error('condition never held');
}

describe.each(EXPRESS_VERSIONS)('$name: fallbackMode mirror', ({ create }) => {
  test('a route keeps answering HIT from the mirror through a Redis kill; after recovery nothing invalidated during the outage is served', async () => {
    const redis = await startRedisServer();
    let restarted: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 300 });
    expect(await store.ready()).toBe(true);
    const fallback = new MemoryStore();
    const cache = createCache({ store, fallback, fallbackMode: 'mirror', breaker: { failureThreshold: 2 } });
    const transitions: string[] = [];
    cache.on('error', () => undefined);
    cache.on('degraded', () => transitions.push('degraded'));
    cache.on('recovered', () => transitions.push('recovered'));
    let origin = 0;
    const app = create();
    app.get('/characters/:id', cacheResponse({ cache, ttl: 60, tags: (req) => [`character:${String(req.params.id)}`] }), (req, res) => {
      res.json({ id: req.params.id, origin: ++origin });
    });
    const raw = new Redis(redis.url);
    try {
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
      expect((await request(app).get('/characters/2')).headers['x-cache']).toBe('MISS');
      await eventually(() => cache.stats().sets >= 2);
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
      const snapshot = await saveSnapshot(redis.url);
      raw.disconnect();

      await redis.stop();
      const during = await Promise.all(Array.from({ length: 20 }, () => request(app).get('/characters/1')));
      expect(during.map((res) => `${res.status} ${String(res.headers['x-cache'])}`)).toEqual(Array.from({ length: 20 }, () => '200 HIT'));
      expect(origin).toBe(2);
      expect(transitions).toEqual(['degraded']);

      // An invalidation during the outage: it reaches the mirror now and the primary on recovery.
      expect(await cache.invalidateTags(['character:2'])).toBe(1);
      const refreshed = await request(app).get('/characters/2');
      expect(refreshed.headers['x-cache']).toBe('MISS');
      expect(refreshed.body.origin).toBe(3);

      const mirrored = fallback.size;
      expect(mirrored).toBeGreaterThanOrEqual(2);
      // Redis comes back holding what it held before the outage (as a persisted Redis would).
      restarted = await restartFromSnapshot(redis.port, snapshot);
      await eventually(() => transitions.length === 2);
      expect(transitions).toEqual(['degraded', 'recovered']);
      // The mirror is kept on recovery: its entries saw every invalidation of this instance.
      expect(fallback.size).toBe(mirrored);

      // The journal was replayed on Redis: character 2's old answer is gone from it.
      const after = await request(app).get('/characters/2');
      expect(after.body.origin).not.toBe(2);
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    } finally {
      raw.disconnect();
      await cache.close();
      await redis.stop();
      await restarted?.stop();
    }
  });
});

describe.each(EXPRESS_VERSIONS)('$name: a SqliteStore mirror behind Redis', ({ create }) => {
  test('through a Redis kill, hits keep coming from SQLite instead of the origin', async () => {
    const redis = await startRedisServer();
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 300 });
    expect(await store.ready()).toBe(true);
    const fallback = new SqliteStore({ path: ':memory:', pruneIntervalMs: 0 });
    const cache = createCache({ store, fallback, fallbackMode: 'mirror', breaker: { failureThreshold: 2 } });
    cache.on('error', () => undefined);
    let origin = 0;
    const app = create();
    app.get('/top', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
      res.json({ origin: ++origin });
    });
    try {
      expect((await request(app).get('/top')).headers['x-cache']).toBe('MISS');
      await eventually(() => cache.stats().sets >= 1);
      expect((await request(app).get('/top')).headers['x-cache']).toBe('HIT');
      await redis.stop();
      const during = await Promise.all(Array.from({ length: 10 }, () => request(app).get('/top')));
      expect(during.map((res) => `${res.status} ${String(res.headers['x-cache'])}`)).toEqual(Array.from({ length: 10 }, () => '200 HIT'));
      expect(during.every((res) => res.body.origin === 1)).toBe(true);
      expect(origin).toBe(1);
    } finally {
      await cache.close();
      await redis.stop();
    }
  });
});

describe('fallbackMode option', () => {
  test('is validated at construction, naming the option', () => {
    expect(() => createCache({ fallback: new MemoryStore(), fallbackMode: 'both' as never })).toThrow(InvalidOptionError);
    expect(() => createCache({ fallback: new MemoryStore(), fallbackMode: 'both' as never })).toThrow(/option "fallbackMode"/);
    expect(() => createCache({ fallbackMode: 'mirror' })).toThrow(/option "fallbackMode".*fallback/);
    expect(() => createCache({ fallback: new MemoryStore(), fallbackMode: 'mirror', breaker: false })).toThrow(/option "fallbackMode"/);
    expect(() => createCache({ fallback: new MemoryStore(), fallbackMode: 'outage' })).not.toThrow();
  });

  test('mirror: healthy writes land in both stores and invalidations reach both; outage: only the primary', async () => {
    const primary = new MemoryStore();
    const mirror = new MemoryStore();
    const cache = createCache({ store: primary, fallback: mirror, fallbackMode: 'mirror' });
    await cache.set('a', 1, { tags: ['t'] });
    await cache.set('b', 2);
    expect([primary.size, mirror.size]).toEqual([2, 2]);
    await cache.invalidateTags(['t']);
    await cache.delete('b');
    expect(await mirror.get('a')).toBeUndefined();
    expect(await mirror.get('b')).toBeUndefined();
    await cache.close();

    const outageFallback = new MemoryStore();
    const outage = createCache({ store: new MemoryStore(), fallback: outageFallback });
    await outage.set('a', 1);
    expect(outageFallback.size).toBe(0);
    await outage.close();
  });
});
