import http from 'node:http';
import type { Express, Request, Response } from 'express';
import Redis from 'ioredis';
import { type Cache, RedisStore, cacheResponse, createCache } from '../../lib';
import { startRedisServer } from '../helpers/redis-server';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request } from './helpers';

// The rows of the one-fill-engine issue: each is a way real traffic made the origin see every
// request of a stampede. Each test counts origin calls; none measures time.

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `cache` has emitted `event` `count` times (counting from now). */
function after(cache: Cache, event: 'set' | 'fill' | 'miss', count = 1): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const off = cache.on(event, () => {
      if (++seen >= count) {
        off();
        resolve();
      }
    });
  });
}

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

describe.each(EXPRESS_VERSIONS)('coalescing on $name', ({ express }) => {
  describe.each(STORE_KINDS)('$name', (kind) => {
    let cache: Cache;
    let server: Running | undefined;
    let calls: number;

    beforeEach(() => {
      cache = createCache({ store: kind.make(), namespace: `coalesce-${Math.random().toString(36).slice(2)}` });
      calls = 0;
    });
    afterEach(async () => {
      await server?.close();
      server = undefined;
      await cache.close();
    });

    async function start(install: (app: Express) => void): Promise<number> {
      const app = express();
      install(app);
      server = await listen(app);
      return server.port;
    }

    test('browsers revalidating with If-None-Match after the TTL expired refill the entry once, and get 304s', async () => {
      const port = await start((app) =>
        app.get('/r', cacheResponse({ cache, ttl: 0.3 }), async (_req: Request, res: Response) => {
          calls++;
          await sleep(50);
          res.json({ v: 'same' });
        }),
      );
      const written = after(cache, 'set');
      const first = await request(port, '/r');
      await written;
      const etag = String(first.headers.etag);
      expect(etag).not.toBe('undefined');
      await sleep(400); // expired
      const answers = await Promise.all(Array.from({ length: 30 }, () => request(port, '/r', { headers: { 'if-none-match': etag } })));
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(304));
      expect(calls).toBe(2);
      // The refill was stored: the next revalidation is answered by the cache.
      const again = await request(port, '/r', { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers['x-cache']).toBe('HIT');
      expect(calls).toBe(2);
    });

    test('a leader whose client disconnects still fills the entry for everyone who waited', async () => {
      const port = await start((app) =>
        app.get('/slow', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
          calls++;
          await sleep(300);
          res.send('filled');
        }),
      );
      const leader = http.get({ host: '127.0.0.1', port, path: '/slow', headers: { host: '127.0.0.1' } });
      leader.on('error', () => undefined);
      await sleep(50);
      const waiters = Promise.all(Array.from({ length: 40 }, () => request(port, '/slow')));
      await sleep(100);
      leader.destroy(); // the first client leaves at about 150 ms
      const answers = await waiters;
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(answers.every((a) => a.body.toString() === 'filled')).toBe(true);
      expect(calls).toBe(1);
    });

    test('If-None-Match: * on the first cold request does not stop the others from sharing its fill', async () => {
      const port = await start((app) =>
        app.get('/star', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
          calls++;
          await sleep(100);
          res.json({ ok: true });
        }),
      );
      const star = request(port, '/star', { headers: { 'if-none-match': '*' } });
      await sleep(20);
      const others = await Promise.all(Array.from({ length: 30 }, () => request(port, '/star')));
      expect((await star).status).toBe(304);
      expect(others.map((a) => a.status)).toEqual(Array(30).fill(200));
      expect(calls).toBe(1);
    });

    test('on a Vary route, requests for another variant coalesce among themselves: one origin call per variant', async () => {
      const port = await start((app) =>
        app.get('/lang', cacheResponse({ cache, ttl: 60 }), async (req: Request, res: Response) => {
          calls++;
          await sleep(100);
          res.set('Vary', 'Accept-Language').send(`hello in ${String(req.headers['accept-language'])}`);
        }),
      );
      const written = after(cache, 'set', 2); // the Vary record and the variant
      expect((await request(port, '/lang', { headers: { 'accept-language': 'en' } })).body.toString()).toBe('hello in en');
      await written;
      const fr = await Promise.all(Array.from({ length: 30 }, () => request(port, '/lang', { headers: { 'accept-language': 'fr' } })));
      expect(fr.every((a) => a.body.toString() === 'hello in fr')).toBe(true);
      expect(calls).toBe(2);
    });

    test('cold concurrent requests for two variants at once: at most one origin call per variant, each gets its own', async () => {
      const port = await start((app) =>
        app.get('/both', cacheResponse({ cache, ttl: 60 }), async (req: Request, res: Response) => {
          calls++;
          await sleep(100);
          res.set('Vary', 'Accept-Language').send(`hello in ${String(req.headers['accept-language'])}`);
        }),
      );
      const en = request(port, '/both', { headers: { 'accept-language': 'en' } });
      await sleep(10);
      const fr = await Promise.all(Array.from({ length: 20 }, () => request(port, '/both', { headers: { 'accept-language': 'fr' } })));
      expect((await en).body.toString()).toBe('hello in en');
      expect(fr.every((a) => a.body.toString() === 'hello in fr')).toBe(true);
      expect(calls).toBe(2);
    });

    test('an origin answering 503 is called once; its answer goes to every waiter, is not stored, and the next request retries', async () => {
      const port = await start((app) =>
        app.get('/down', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
          calls++;
          await sleep(100);
          res.status(503).send('upstream down');
        }),
      );
      const answers = await Promise.all(Array.from({ length: 15 }, () => request(port, '/down')));
      expect(answers.map((a) => a.status)).toEqual(Array(15).fill(503));
      expect(answers.every((a) => a.body.toString() === 'upstream down')).toBe(true);
      expect(calls).toBe(1);
      expect((await request(port, '/down')).status).toBe(503);
      expect(calls).toBe(2);
    });

    test('a personal answer (Set-Cookie) is never handed to waiters: each calls the origin itself', async () => {
      const port = await start((app) =>
        app.get('/me', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
          const n = ++calls;
          await sleep(100);
          res.cookie('session', `s${n}`).send(`user ${n}`);
        }),
      );
      const answers = await Promise.all(Array.from({ length: 10 }, () => request(port, '/me')));
      const cookies = answers.map((a) => String(a.headers['set-cookie']));
      expect(new Set(cookies).size).toBe(10);
      expect(calls).toBe(10);
    });

    test('stats() on a Vary route after MISS, HIT, MISS counts one hit and two misses', async () => {
      const seen: string[] = [];
      for (const name of ['hit', 'miss', 'stale', 'uncacheable', 'bypass', 'limited', 'not-modified'] as const) cache.on(name, () => seen.push(name));
      const port = await start((app) =>
        app.get('/v', cacheResponse({ cache, ttl: 60 }), (req: Request, res: Response) => {
          calls++;
          res.set('Vary', 'Accept-Language').send(String(req.headers['accept-language']));
        }),
      );
      // The outcome is reported once the fill is over (stored, lock released): wait for it.
      let counted = after(cache, 'miss');
      expect((await request(port, '/v', { headers: { 'accept-language': 'en' } })).headers['x-cache']).toBe('MISS');
      await counted;
      expect((await request(port, '/v', { headers: { 'accept-language': 'en' } })).headers['x-cache']).toBe('HIT');
      counted = after(cache, 'miss');
      expect((await request(port, '/v', { headers: { 'accept-language': 'fr' } })).headers['x-cache']).toBe('MISS');
      await counted;
      const stats = cache.stats();
      expect(seen).toEqual(['miss', 'hit', 'miss']);
      expect({ hits: stats.hits, misses: stats.misses }).toEqual({ hits: 1, misses: 2 });
    });
  });

  test('with Redis down, cold concurrent requests still share one origin call', async () => {
    const redis = await startRedisServer();
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 100 });
    await store.ready();
    await redis.stop();
    const cache = createCache({ store, breaker: false });
    cache.on('error', () => undefined);
    let calls = 0;
    const app = express();
    app.get('/cold', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
      calls++;
      await sleep(150);
      res.send('from origin');
    });
    const running = await listen(app);
    try {
      // Up to the test client's 16 sockets: all of them in flight at once.
      const answers = await Promise.all(Array.from({ length: 15 }, () => request(running.port, '/cold')));
      expect(answers.map((a) => a.status)).toEqual(Array(15).fill(200));
      expect(calls).toBe(1);
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('with Redis out of memory (every write refused), cold concurrent requests still share one origin call', async () => {
    const redis = await startRedisServer();
    const client = new Redis(redis.port, '127.0.0.1');
    // Below what an empty server already uses: every write is refused with OOM, reads still work.
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', '1');
    const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 500 }), breaker: false });
    const errors: string[] = [];
    cache.on('error', ({ error }) => errors.push(error.message));
    cache.on('error', () => undefined);
    let calls = 0;
    const app = express();
    app.get('/oom', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
      calls++;
      await sleep(150);
      res.send('from origin');
    });
    const running = await listen(app);
    try {
      const answers = await Promise.all(Array.from({ length: 15 }, () => request(running.port, '/oom')));
      expect(answers.every((a) => a.body.toString() === 'from origin')).toBe(true);
      expect(calls).toBe(1);
      expect(errors.some((message) => /OOM/.test(message))).toBe(true);
    } finally {
      await running.close();
      await cache.close();
      client.disconnect();
      await redis.stop();
    }
  });
});
