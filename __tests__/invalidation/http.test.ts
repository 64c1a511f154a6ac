import express5 from 'express';
import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, InvalidationPendingError, RedisStore, apiKey, cacheResponse, createCache, getResponse, invalidateAfter, invalidateCharacterCache } from '../../lib';
import { freePort } from '../helpers/redis-server';
import { testRedisClient } from '../helpers/redis';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

const clients: Array<ReturnType<typeof testRedisClient>> = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

function redisCache(): Cache {
  const client = testRedisClient();
  clients.push(client);
  return createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'http' });
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Polls `check` until it holds; invalidateAfter runs after the response, so tests wait for it. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// The middleware keys on scheme and host too; supertest talks to 127.0.0.1 over http.
const characterKey = (id: string): string => apiKey('character', `/characters/${id}`, '', undefined, { protocol: 'http', host: '127.0.0.1' });

describe.each([
  ['Express 5', express5],
  ['Express 4', express4],
])('invalidation over HTTP on %s with a real Redis', (_name, express) => {
  let cache: Cache;
  let app: Express;
  let origin: number;
  let specCalls: number;
  let loadGate: { promise: Promise<void>; open: () => void } | undefined;
  let failures: Error[];

  beforeEach(() => {
    cache = redisCache();
    origin = 0;
    specCalls = 0;
    loadGate = undefined;
    failures = [];
    app = express();
    app.get(
      '/characters/:id',
      cacheResponse({ cache, keyPrefix: 'character', tags: (req: Request) => [`character:${String(req.params.id)}`] }),
      async (req: Request, res: Response) => {
        origin++;
        const version = origin;
        if (loadGate) await loadGate.promise;
        res.json({ id: req.params.id, version });
      },
    );
    app.put(
      '/characters/:id',
      invalidateAfter(
        (req) => {
          specCalls++;
          return { scopes: [['character', String(req.params.id)]] };
        },
        { cache, onError: (error) => failures.push(error) },
      ),
      (req: Request, res: Response) => {
        if (req.query.fail === '1') res.status(500).json({ error: 'write failed' });
        else res.status(204).end();
      },
    );
  });
  afterEach(() => cache.close());

  test('a tag shared by a middleware entry and a wrap entry clears both', async () => {
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    // What a @Cacheable({ tags }) method stores goes through the same wrap option.
    const loads: string[] = [];
    const getStats = (): Promise<{ wins: number }> => cache.wrap('stats:character:1', async () => (loads.push('x'), { wins: 3 }), { tags: ['character:1'] });
    await getStats();
    await getStats();
    expect(loads).toHaveLength(1);

    expect(await cache.invalidateTags(['character:1'])).toBe(2);
    expect(await getResponse(cache, characterKey('1'))).toBeUndefined();
    expect(await cache.get('stats:character:1')).toBeUndefined();
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
    await getStats();
    expect(loads).toHaveLength(2);
  });

  test('invalidateAfter on a 2xx write clears the entry; a 500 leaves the cache intact and never calls the spec', async () => {
    await request(app).get('/characters/1');
    expect(await getResponse(cache, characterKey('1'))).toBeDefined();

    const failed = await request(app).put('/characters/1?fail=1');
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: 'write failed' });
    // The finish listener has run by now: a 500 invalidated nothing.
    expect(specCalls).toBe(0);
    expect(await getResponse(cache, characterKey('1'))).toBeDefined();
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');

    const ok = await request(app).put('/characters/1');
    expect(ok.status).toBe(204);
    await eventually(async () => (await getResponse(cache, characterKey('1'))) === undefined, 'the entry to be invalidated');
    expect(specCalls).toBe(1);
    const after = await request(app).get('/characters/1');
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.version).toBe(2);
    expect(failures).toEqual([]);
  });

  test('a response stored by a miss that started before an invalidation is not written back', async () => {
    loadGate = gate();
    const slowGet = request(app).get('/characters/7').then((res) => res);
    await eventually(async () => origin === 1, 'the handler to start');
    expect(await invalidateCharacterCache('7', cache)).toEqual({ removed: 0, pending: false });
    loadGate.open();
    const res = await slowGet;
    expect(res.headers['x-cache']).toBe('MISS');
    // The store write would have been queued before the response reached us; none was.
    expect(await getResponse(cache, characterKey('7'))).toBeUndefined();
    loadGate = undefined;
    await request(app).get('/characters/7');
    expect(await getResponse(cache, characterKey('7'))).toBeDefined();
  });
});

describe('invalidateAfter on a dead store', () => {
  test.each([false, true])('the write answers, the invalidation is journaled and reported (strict: %s)', async (strict) => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, redisOptions: { retryStrategy: () => null } });
    const cache = createCache({ store });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    const failures: Error[] = [];
    const app = express5();
    app.post(
      '/content',
      invalidateAfter({ scopes: ['content'], tags: ['feed'] }, { cache, strict, onError: (error) => failures.push(error) }),
      (_req: Request, res: Response) => {
        res.status(201).json({ created: true });
      },
    );
    const res = await request(app).post('/content');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ created: true });
    // The head was held until the invalidation was journaled: both are known by now.
    expect(errors.some((error) => error instanceof InvalidationPendingError)).toBe(true);
    expect(failures.map((error) => error.constructor.name)).toEqual(strict ? ['InvalidationPendingError'] : []);
    await cache.close();
  });

  test('a throwing spec goes to onError and the response is unchanged', async () => {
    const failures: Error[] = [];
    const app = express5();
    app.post(
      '/x',
      invalidateAfter(
        () => {
          throw new Error('bad spec');
        },
        { cache: createCache(), onError: (error) => failures.push(error) },
      ),
      (_req: Request, res: Response) => {
        res.json({ ok: true });
      },
    );
    const res = await request(app).post('/x');
    expect(res.body).toEqual({ ok: true });
    expect(failures.map((error) => error.message)).toEqual(['bad spec']);
  });

  test('a cacheResponse tags function that throws leaves the answer uncached, not untagged', async () => {
    const cache = createCache();
    const app = express5();
    app.get(
      '/t',
      cacheResponse({
        cache,
        tags: () => {
          throw new Error('no tags today');
        },
      }),
      (_req: Request, res: Response) => {
        res.json({ ok: true });
      },
    );
    expect((await request(app).get('/t')).body).toEqual({ ok: true });
    expect((await request(app).get('/t')).headers['x-cache']).toBe('MISS');
    expect(cache.stats().sets).toBe(0);
  });

  test('invalid options throw at construction', () => {
    expect(() => invalidateAfter(42 as never)).toThrow(/spec/);
    expect(() => invalidateAfter({}, { onError: 'no' as never })).toThrow(/onError/);
    expect(() => cacheResponse({ tags: ['a'] as never })).toThrow(/option "tags"/);
  });
});
