import { randomBytes } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, RedisStore, cacheResponse, createCache, invalidateCharacterCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { testRedisClient } from '../helpers/redis';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { type Gate, gate, refreshes, sleep, until, writes } from './helpers';

afterAll(closeStoreClients);

describe.each(STORE_KINDS)('background revalidation of routes on $name', (kind) => {
  describe.each(EXPRESS_VERSIONS)('$name', (express) => {
    let cache: Cache;
    let app: Express;
    let calls: number;
    let handlerGate: Gate | undefined;
    let failing: boolean;

    const build = (options: { ttl?: number; staleWhileRevalidate?: number; backgroundRefresh?: boolean } = {}): void => {
      app = express.create();
      const route = cacheResponse({ cache, ttl: options.ttl ?? 300, keyPrefix: 'character', staleWhileRevalidate: options.staleWhileRevalidate ?? 60, backgroundRefresh: options.backgroundRefresh });
      app.get('/characters/:id', route, async (req: Request, res: Response) => {
        calls++;
        const mine = calls;
        if (handlerGate) await handlerGate.promise;
        if (failing) res.status(503).json({ failed: mine });
        else res.json({ id: req.params.id, version: mine });
      });
    };

    beforeEach(() => {
      cache = createCache({ store: kind.make(), namespace: `bg-${randomBytes(4).toString('hex')}` });
      calls = 0;
      handlerGate = undefined;
      failing = false;
    });
    afterEach(() => cache.close());

    const get = async (): Promise<string> => {
      const res = await request(app).get('/characters/3');
      return `${String(res.headers['x-cache'])} ${res.status} v${String(res.body.version)}`;
    };

    test('after a soft invalidation: STALE at once while the handler is held, one refresh, then HIT with the new body', async () => {
      build();
      const seen = refreshes(cache);
      expect(await get()).toBe('MISS 200 v1');
      expect(await get()).toBe('HIT 200 v1');
      await invalidateCharacterCache('3', { soft: true, cache });
      handlerGate = gate();
      // The handler is held: an answer here cannot have waited for it.
      expect(await get()).toBe('STALE 200 v1');
      await until(() => calls === 2, 'the refresh to reach the handler');
      expect(await get()).toBe('STALE 200 v1');
      handlerGate.open();
      await until(() => seen.length === 1, 'the refresh to end');
      expect(seen[0]).toMatchObject({ trigger: 'stale', outcome: 'stored' });
      expect(await get()).toBe('HIT 200 v2');
      expect(calls).toBe(2);
      expect(cache.stats()).toMatchObject({ misses: 1, stale: 2 });
    });

    test('after the TTL runs out inside the window: STALE at once, then HIT with the new body', async () => {
      build({ ttl: 1 });
      expect(await get()).toBe('MISS 200 v1');
      await sleep(1_100);
      handlerGate = gate();
      expect(await get()).toBe('STALE 200 v1');
      await until(() => calls === 2, 'the refresh to reach the handler');
      handlerGate.open();
      await until(async () => (await get()) === 'HIT 200 v2', 'the refreshed answer');
      expect(calls).toBe(2);
    });

    test('a failing refresh keeps serving stale until the window ends, then goes to the origin', async () => {
      build({ staleWhileRevalidate: 1 });
      const stored = writes(cache);
      expect(await get()).toBe('MISS 200 v1');
      await stored.wait(1);
      await invalidateCharacterCache('3', { soft: true, cache });
      failing = true;
      const seen = refreshes(cache);
      expect(await get()).toBe('STALE 200 v1');
      await until(() => seen.length === 1, 'the failed refresh');
      expect(seen[0]).toMatchObject({ trigger: 'stale', outcome: 'not-stored' });
      expect(await get()).toBe('STALE 200 v1');
      await sleep(1_100);
      expect(await get()).toMatch(/^UNCACHEABLE 503 /);
    });

    test('the refresh sends the stored validators and no credentials; a 304 freshens the entry', async () => {
      app = express.create();
      const seenHeaders: Array<Record<string, unknown>> = [];
      app.get('/same', cacheResponse({ cache, ttl: 300, keyPrefix: 'same', staleWhileRevalidate: 60 }), (req: Request, res: Response) => {
        calls++;
        seenHeaders.push({ ...req.headers });
        // Express answers 304 itself when If-None-Match matches the ETag it computes.
        res.json({ same: true });
      });
      const seen = refreshes(cache);
      const stored = writes(cache);
      expect((await request(app).get('/same')).headers['x-cache']).toBe('MISS');
      await stored.wait(1);
      await cache.invalidatePattern('api:same:*', { soft: true });
      const stale = await request(app).get('/same').set('X-Trace', 'kept').set('Pragma', 'no-cache');
      expect(stale.headers['x-cache']).toBe('STALE');
      await until(() => seen.length === 1, 'the refresh to end');
      expect(seen[0]).toMatchObject({ trigger: 'stale', outcome: 'stored' });
      const refresh = seenHeaders[1] ?? {};
      expect(refresh['if-none-match']).toBe(stale.headers.etag);
      expect(refresh['x-trace']).toBe('kept');
      expect(refresh.pragma).toBeUndefined();
      expect(refresh.cookie).toBeUndefined();
      const after = await request(app).get('/same');
      expect(after.headers['x-cache']).toBe('HIT');
      expect(after.body).toEqual({ same: true });
      expect(calls).toBe(2);
    });

    test('a route of a mounted sub-app refreshes through the top app', async () => {
      app = express.create();
      const v1 = express.create();
      app.use('/v1', v1);
      v1.get('/characters/:id', cacheResponse({ cache, ttl: 300, keyPrefix: 'character', staleWhileRevalidate: 60 }), (req: Request, res: Response) => {
        calls++;
        res.json({ id: req.params.id, version: calls });
      });
      const stored = writes(cache);
      const at = async (): Promise<string> => {
        const res = await request(app).get('/v1/characters/3');
        return `${String(res.headers['x-cache'])} v${String(res.body.version)}`;
      };
      expect(await at()).toBe('MISS v1');
      await stored.wait(1);
      await invalidateCharacterCache('3', { soft: true, cache });
      expect(await at()).toBe('STALE v1');
      await stored.wait(2);
      expect(await at()).toBe('HIT v2');
      expect(calls).toBe(2);
    });

    test('backgroundRefresh: false keeps the first request waiting for the handler', async () => {
      build({ backgroundRefresh: false });
      expect(await get()).toBe('MISS 200 v1');
      await invalidateCharacterCache('3', { soft: true, cache });
      expect(await get()).toBe('MISS 200 v2');
      expect(await get()).toBe('HIT 200 v2');
    });
  });
});

describe.each(EXPRESS_VERSIONS)('two instances on one Redis ($name)', (express) => {
  test('one refresh per key across instances', async () => {
    const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
    const clients = [testRedisClient({ keyPrefix }), testRedisClient({ keyPrefix })];
    const caches = clients.map((client) => createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'shared' }));
    let calls = 0;
    let held: Gate | undefined;
    const apps = caches.map((cache) => {
      const app = express.create();
      app.get('/top', cacheResponse({ cache, ttl: 300, keyPrefix: 'top', staleWhileRevalidate: 60 }), async (_req: Request, res: Response) => {
        const mine = ++calls;
        if (held) await held.promise;
        res.json({ version: mine });
      });
      return app;
    });
    const [a, b] = apps as [Express, Express];
    const [first, second] = caches as [Cache, Cache];
    try {
      const seenA = refreshes(first);
      const seenB = refreshes(second);
      const stored = writes(first);
      expect((await request(a).get('/top')).headers['x-cache']).toBe('MISS');
      await stored.wait(1);
      await first.invalidatePattern('api:top:*', { soft: true });
      held = gate();
      expect((await request(a).get('/top')).headers['x-cache']).toBe('STALE');
      await until(() => calls === 2, 'the first instance to refresh');
      const other = await request(b).get('/top');
      expect(other.headers['x-cache']).toBe('STALE');
      await until(() => seenB.length === 1, 'the second instance to give up its refresh');
      expect(seenB[0]?.outcome).toBe('skipped');
      held.open();
      await until(() => seenA.length === 1, 'the refresh to end');
      await until(async () => (await request(b).get('/top')).body.version === 2, 'the new answer on the other instance');
      expect(calls).toBe(2);
    } finally {
      await Promise.all(caches.map((cache) => cache.close()));
      await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    }
  });
});
