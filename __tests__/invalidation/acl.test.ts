/**
 * `namespace` covers every key the library writes: a Redis user limited by ACL to the cache's
 * namespace (`~ns:*` for keys, `&ns:*` for pub/sub channels) can use every feature, and the
 * cache reports no error doing so.
 */
import type { Request, Response } from 'express';
import request from 'supertest';
import { type Cache, RedisStore, cacheResponse, createCache } from '../../lib';
import type { TieredStore } from '../../lib/stores/tiered';
import { newRedis } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { EXPRESS_VERSIONS, whenSet } from '../http/helpers';
import type { Redis } from 'ioredis';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let server: RedisServer;
let admin: Redis;
const caches: Cache[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = newRedis(server.url);
  // Every command but the dangerous ones (KEYS, FLUSHALL, CONFIG, DEBUG, ...), on the namespace
  // only; INFO (dangerous in Redis 7) is what ioredis' ready check sends on connect.
  await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', 'resetkeys', '~ns:*', 'resetchannels', '&ns:*', '+@all', '-@dangerous', '+info');
});
beforeEach(async () => {
  await admin.flushall();
});
afterAll(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
  admin.disconnect();
  await server.stop();
});

/** A cache on the limited user, with an L1 and its bus; every `error` event is collected. */
async function limitedCache(errors: string[], options: { l1?: boolean } = {}): Promise<Cache> {
  const cache = createCache({
    store: new RedisStore({ url: `redis://app:pw@127.0.0.1:${server.port}`, operationTimeoutMs: 2_000 }),
    namespace: 'ns:',
    ...(options.l1 === false ? {} : { l1: {} }),
  });
  caches.push(cache);
  cache.on('error', ({ error, operation }) => errors.push(`${operation}: ${error.message}`));
  if (options.l1 !== false) await (cache.store as TieredStore).ready(10_000);
  return cache;
}

/** Every key in the server, as the admin sees it. */
async function allKeys(): Promise<string[]> {
  return (await admin.keys('*')).sort();
}

describe.each(EXPRESS_VERSIONS)('a Redis user limited to the namespace ($name)', ({ express }) => {
  test('route answers are HITs; scope, tag and pattern invalidations (hard and soft) apply; lock and limiter work; no error', async () => {
    const errors: string[] = [];
    const cache = await limitedCache(errors);
    const rows = new Map([['1', 1]]);
    let origin = 0;
    const app = express();
    app.get(
      '/characters/:id',
      cacheResponse({ cache, ttl: 300, keyPrefix: 'character', tags: (req: Request) => [`team:${String(req.params.id)}`], limiter: { minIntervalMs: 1, maxPerWindow: 1_000, windowMs: 1_000 } }),
      (req: Request, res: Response) => {
        origin++;
        res.json({ id: req.params.id, version: rows.get(String(req.params.id)) });
      },
    );
    const fill = async (): Promise<void> => {
      const stored = whenSet(cache);
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
      await stored;
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    };
    await fill();
    // Strict: an invalidation the store refuses (NOPERM) rejects instead of being journaled.
    const strict = { strict: true };
    const invalidations: Array<() => Promise<unknown>> = [
      () => cache.invalidateScope('character', '1', strict),
      () => cache.invalidateScope('character', '1', { ...strict, soft: true }),
      () => cache.invalidateScope('character', undefined, strict),
      () => cache.invalidateTags(['team:1'], strict),
      () => cache.invalidateTags(['team:1'], { ...strict, soft: true }),
      () => cache.invalidatePattern('api:character:*', strict),
      () => cache.invalidatePattern('api:character:*', { ...strict, soft: true }),
      () => cache.invalidate({ patterns: ['api:*'], scopes: [['character', '1']] }, strict),
    ];
    for (const invalidate of invalidations) {
      await invalidate();
      rows.set('1', (rows.get('1') ?? 0) + 1);
      // Soft or hard, a route without a stale window gets the new answer at once.
      const stored = whenSet(cache);
      const after = await request(app).get('/characters/1');
      expect({ cache: after.headers['x-cache'], version: after.body.version }).toEqual({ cache: 'MISS', version: rows.get('1') });
      await stored;
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    }
    expect(origin).toBeGreaterThan(invalidations.length);
    expect(errors).toEqual([]);
    // Everything the library wrote lies inside the namespace.
    expect((await allKeys()).filter((key) => !key.startsWith('ns:'))).toEqual([]);
  });
});

test('the bus between two instances with l1 works on the limited user', async () => {
  const errors: string[] = [];
  const a = await limitedCache(errors);
  const b = await limitedCache(errors);
  await a.set('character:1', { v: 1 }, { ttl: 300, tags: ['team:1'] });
  // B keeps a copy once its read no longer races A's `set` message.
  for (let i = 0; i < 50 && !(b.store as TieredStore).holds('ns:character:1'); i++) {
    expect(await b.get('character:1')).toEqual({ v: 1 });
    await sleep(20);
  }
  expect({ holds: (b.store as TieredStore).holds('ns:character:1'), errors }).toEqual({ holds: true, errors: [] });
  await a.invalidateTags(['team:1']);
  // B hears the invalidation on the bus and drops its copy.
  const until = Date.now() + 5_000;
  while ((b.store as TieredStore).holds('ns:character:1') && Date.now() < until) await sleep(10);
  expect((b.store as TieredStore).holds('ns:character:1')).toBe(false);
  expect(await b.get('character:1')).toBeUndefined();
  expect(errors).toEqual([]);
});
