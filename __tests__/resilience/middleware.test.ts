import request from 'supertest';
import { type Cache, type FullStore, RedisStore, apiKey, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function settle(cache: Cache, sets: number): Promise<void> {
  for (let i = 0; i < 200 && cache.stats().sets < sets; i++) await sleep(5);
}

describe.each(EXPRESS_VERSIONS)('resilient cacheResponse on $name', ({ create }) => {
  describe.each(STORE_KINDS)('with $name', (kind) => {
    let cache: Cache;
    beforeEach(() => {
      cache = createCache({ store: kind.make() });
    });
    afterEach(() => cache.close());

    test('200 concurrent cold requests reach a 50 ms origin once and all get its answer', async () => {
      let origin = 0;
      const app = create();
      app.get('/slow', cacheResponse({ cache }), async (_req, res) => {
        origin++;
        await sleep(50);
        res.json({ origin });
      });
      const server = app.listen(0, '127.0.0.1');
      const answers = await Promise.all(Array.from({ length: 200 }, () => request(server).get('/slow')));
      server.close();
      expect(origin).toBe(1);
      expect(answers.every((a) => a.status === 200 && a.body.origin === 1)).toBe(true);
      expect(new Set(answers.map((a) => a.headers['x-cache']))).toEqual(new Set(['MISS', 'HIT']));
    });

    test('a request for another Vary variant that waited on a fill stores its own answer', async () => {
      let origin = 0;
      const app = create();
      app.get('/lang', cacheResponse({ cache }), async (req, res) => {
        origin++;
        await sleep(50);
        res.set('Vary', 'Accept-Language').send(`hello in ${String(req.headers['accept-language'])}`);
      });
      const server = app.listen(0, '127.0.0.1');
      const [en, fr] = await Promise.all([
        request(server).get('/lang').set('Accept-Language', 'en'),
        sleep(10).then(() => request(server).get('/lang').set('Accept-Language', 'fr')),
      ]);
      expect([en.text, fr.text]).toEqual(['hello in en', 'hello in fr']);
      const again = await Promise.all([request(server).get('/lang').set('Accept-Language', 'fr'), request(server).get('/lang').set('Accept-Language', 'en')]);
      server.close();
      expect(again.map((r) => [r.text, r.headers['x-cache']])).toEqual([
        ['hello in fr', 'HIT'],
        ['hello in en', 'HIT'],
      ]);
      expect(origin).toBe(2);
    });

    test('coalescing never hands one request’s Set-Cookie to another', async () => {
      let origin = 0;
      const app = create();
      app.get('/personal', cacheResponse({ cache }), async (req, res) => {
        origin++;
        await sleep(30);
        res.cookie('id', String(req.query.user)).send(`hello ${String(req.query.user)}`);
      });
      const server = app.listen(0, '127.0.0.1');
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => request(server).get(`/personal?user=u${i}`)));
      const same = await Promise.all(Array.from({ length: 10 }, () => request(server).get('/personal?user=same')));
      server.close();
      answers.forEach((a, i) => {
        expect(a.text).toBe(`hello u${i}`);
        expect(a.headers['set-cookie']).toEqual([`id=u${i}; Path=/`]);
      });
      // Ten concurrent requests for one URL: the leader's cookie answer is not storable, so every
      // waiter calls the origin itself and gets its own cookie.
      expect(same.every((a) => a.headers['set-cookie']?.[0] === 'id=same; Path=/')).toBe(true);
      expect(origin).toBe(30);
    });

    test('stale-while-revalidate: after expiry one request revalidates, concurrent ones get STALE at once', async () => {
      let version = 0;
      const app = create();
      // A TTL with headroom: the revalidated v2 must still be fresh for the final request, even
      // on a loaded machine.
      app.get('/swr', cacheResponse({ cache, ttl: 0.4, staleWhileRevalidate: 60, backgroundRefresh: false }), async (_req, res) => {
        version++;
        await sleep(version === 1 ? 0 : 150);
        res.send(`v${version}`);
      });
      const server = app.listen(0, '127.0.0.1');
      await request(server).get('/swr');
      await settle(cache, 1);
      await sleep(450);
      const revalidating = request(server).get('/swr').then((res) => res); // supertest only sends once awaited
      // Wait until the revalidation is in the origin (its answer takes 150 ms from there).
      for (let i = 0; i < 200 && version < 2; i++) await sleep(5);
      const concurrent = await request(server).get('/swr');
      expect(concurrent.headers['x-cache']).toBe('STALE');
      expect(concurrent.text).toBe('v1');
      expect((await revalidating).text).toBe('v2');
      await settle(cache, 2);
      const after = await request(server).get('/swr');
      server.close();
      expect(after.headers['x-cache']).toBe('HIT');
      expect(after.text).toBe('v2');
      expect(version).toBe(2);
    });

    test('stale-if-error: a 5xx or a thrown error is replaced by the stale answer; without one the error stands', async () => {
      let failing = false;
      const app = create();
      app.get('/sie', cacheResponse({ cache, ttl: 0.05, staleIfError: 60 }), (_req, res, next) => {
        if (!failing) {
          res.type('text').send('good');
          return;
        }
        if (_req.query.mode === 'throw') next(new Error('boom'));
        else res.status(503).send('down');
      });
      await request(app).get('/sie');
      await request(app).get('/sie?mode=throw');
      await settle(cache, 2);
      await sleep(80);
      failing = true;
      const replaced = await request(app).get('/sie');
      expect(replaced.status).toBe(200);
      expect(replaced.headers['x-cache']).toBe('STALE');
      expect(replaced.text).toBe('good');
      const thrown = await request(app).get('/sie?mode=throw');
      expect(thrown.status).toBe(200);
      expect(thrown.text).toBe('good');
      const noStale = await request(app).get('/sie?other=1');
      expect(noStale.status).toBe(503);
    });

    test('coalesced waiters do not consume the limiter: 50 concurrent cold requests, one origin call, no 429', async () => {
      let origin = 0;
      const app = create();
      const limiter = { name: `once-${kind.name}-${Math.random()}`, maxPerWindow: 1, windowMs: 60_000 };
      app.get('/once', cacheResponse({ cache, limiter }), async (_req, res) => {
        origin++;
        await sleep(50);
        res.send('ok');
      });
      const server = app.listen(0, '127.0.0.1');
      const answers = await Promise.all(Array.from({ length: 50 }, () => request(server).get('/once')));
      server.close();
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 50 }, () => 200));
      expect(origin).toBe(1);
    });

    test('stale-while-revalidate across instances: while another instance holds the fill lock, the stale entry is served at once', async () => {
      let version = 0;
      const app = create();
      app.get('/shared', cacheResponse({ cache, keyPrefix: 'shared', ttl: 0.05, staleWhileRevalidate: 60 }), (_req, res) => {
        version++;
        res.send(`v${version}`);
      });
      await request(app).get('/shared');
      await settle(cache, 1);
      await sleep(80);
      // Another instance revalidating this URL holds its fill lock.
      expect(await (cache.store as FullStore).acquireLock(`__lock__:${apiKey('shared', '/shared', '', undefined, { protocol: 'http', host: '127.0.0.1' })}`, 60_000)).toBeDefined();
      const answer = await request(app).get('/shared');
      expect(answer.headers['x-cache']).toBe('STALE');
      expect(answer.text).toBe('v1');
      expect(version).toBe(1);
    });

    test('limiter: misses are limited (429 + Retry-After, or STALE), hits never are', async () => {
      let origin = 0;
      const app = create();
      const limiter = { name: `upstream-${kind.name}-${Math.random()}`, minIntervalMs: 60_000 };
      app.get('/limited', cacheResponse({ cache, ttl: 60, limiter }), (_req, res) => {
        origin++;
        res.send(`call ${origin}`);
      });
      expect((await request(app).get('/limited?a=1')).status).toBe(200);
      await settle(cache, 1);
      for (let i = 0; i < 20; i++) {
        const hit = await request(app).get('/limited?a=1');
        expect(hit.status).toBe(200);
        expect(hit.headers['x-cache']).toBe('HIT');
      }
      const limited = await request(app).get('/limited?a=2');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(origin).toBe(1);
    });
  });
});

describe('resilient cacheResponse against a misbehaving real Redis', () => {
  test('a paused Redis (CLIENT PAUSE) costs at most the timeout: every request is answered 200 by the origin', async () => {
    const server = await startRedisServer();
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 100 });
    const admin = new Redis(server.url);
    const cache = createCache({ store, breaker: { failureThreshold: 3, coolDownMs: 60_000 } });
    try {
      await store.ready();
      const errors: string[] = [];
      cache.on('error', ({ error }) => errors.push(error.name));
      const app = EXPRESS_VERSIONS[0]!.create();
      let origin = 0;
      app.get('/p', cacheResponse({ cache }), (_req, res) => res.send(`origin ${++origin}`));
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => request(app).get(`/p?i=${i}`)));
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
      expect(origin).toBe(10);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((name) => name === 'StoreTimeoutError')).toBe(true);
    } finally {
      admin.disconnect();
      await cache.close();
      await server.stop();
    }
  });

  test('redis-server stopped and restarted under continuous load: zero failed requests', async () => {
    const server = await startRedisServer();
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 200 });
    await store.ready();
    const cache = createCache({ store, breaker: { failureThreshold: 3, coolDownMs: 200 } });
    // The outage's failures are expected, so heard here (unheard, the first would be a process warning).
    const failed: string[] = [];
    cache.on('error', ({ operation }) => failed.push(operation));
    const app = EXPRESS_VERSIONS[0]!.create();
    app.get('/load', cacheResponse({ cache, ttl: 1 }), (req, res) => res.send(`item ${String(req.query.i)}`));
    const http = app.listen(0, '127.0.0.1');
    let restarted: RedisServer | undefined;
    let stop = false;
    try {
    const statuses = new Map<number, number>();
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; !stop && n < 2_000; n++) {
        const res = await request(http).get(`/load?i=${(w * 7 + n) % 25}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    await sleep(300);
    await server.stop();
    await sleep(600);
    restarted = await startRedisServer({ port: server.port });
    await sleep(600);
    stop = true;
    await load;
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(50);
    expect(failed.length).toBeGreaterThan(0);
    } finally {
      stop = true;
      http.close();
      await cache.close();
      await server.stop();
      await restarted?.stop();
    }
  });
});
