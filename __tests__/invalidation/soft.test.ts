import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, apiKey, cacheResponse, createCache, invalidateAfter, invalidateCacheByPattern, invalidateCharacterCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORE_KINDS)('soft invalidation with wrap on $name', (kind) => {
  let cache: Cache;
  let version: number;
  let loads: number;
  let refreshGate: { promise: Promise<void>; open: () => void } | undefined;

  const loader = async (): Promise<string> => {
    loads++;
    const mine = ++version;
    if (refreshGate) await refreshGate.promise;
    return `v${mine}`;
  };

  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `soft-${Math.random().toString(36).slice(2)}` });
    version = 0;
    loads = 0;
    refreshGate = undefined;
  });
  afterEach(() => cache.close());

  const load = (staleWhileRevalidate?: number): Promise<string> => cache.wrap('character:1', loader, { ttl: 60, staleWhileRevalidate, tags: ['character:1'] });

  const SOFT_FORMS: Array<[string, (cache: Cache) => Promise<unknown>]> = [
    ['invalidateTags(tags, { soft })', (c) => c.invalidateTags(['character:1'], { soft: true })],
    ['invalidatePattern(glob, { soft })', (c) => c.invalidatePattern('character:*', { soft: true })],
    ['invalidateScope(scope, id, { soft })', (c) => c.invalidateScope('character', '1', { soft: true })],
    ['invalidateScope(scope, undefined, { soft })', (c) => c.invalidateScope('character', undefined, { soft: true })],
    ['delete(key, { soft })', (c) => c.delete('character:1', { soft: true })],
    ['invalidateCharacterCache(id, { soft, cache })', (c) => invalidateCharacterCache('1', { soft: true, cache: c })],
    ['invalidateCacheByPattern(glob, { soft, cache })', (c) => invalidateCacheByPattern('character:*', { soft: true, cache: c })],
  ];

  test.each(SOFT_FORMS)('%s: the old value once at once, exactly one refresh, then the new value', async (_form, softly) => {
    const stale: string[] = [];
    cache.on('stale', ({ key, reason }) => stale.push(`${key} ${reason}`));
    expect(await load(30)).toBe('v1');
    expect(await load(30)).toBe('v1');
    expect(loads).toBe(1);
    expect(await softly(cache)).toBeTruthy(); // one entry marked
    refreshGate = gate();
    // Answered from the marked entry without waiting for the loader; the refresh runs behind.
    const answers = await Promise.all([load(30), load(30), load(30)]);
    expect(answers).toEqual(['v1', 'v1', 'v1']);
    await until(() => loads === 2, 'one refresh to reach the loader');
    // (A call arriving now joins the refresh in flight, as with any wrap load.)
    refreshGate.open();
    await until(async () => (await cache.get('character:1')) === 'v2', 'the refresh to be stored');
    expect(await load(30)).toBe('v2');
    expect(loads).toBe(2);
    expect(stale.length).toBeGreaterThanOrEqual(1);
    expect(stale[0]).toMatch(/character:1 revalidate$/);
  });

  test('the stale answer never outlives the window, counted from the invalidation', async () => {
    expect(await load(0.2)).toBe('v1');
    await cache.invalidateTags(['character:1'], { soft: true });
    await sleep(300);
    expect(await load(0.2)).toBe('v2'); // past the window: a miss, the loader answers
    expect(loads).toBe(2);
  });

  test('without a stale-while-revalidate window, soft behaves like hard', async () => {
    expect(await load()).toBe('v1');
    await cache.invalidateTags(['character:1'], { soft: true });
    expect(await cache.get('character:1')).toBeUndefined();
    expect(await load()).toBe('v2');
  });

  test('a mark never touches what is written after it, nor other entries', async () => {
    await cache.set('character:2', 'other', { tags: ['character:2'] });
    expect(await load(30)).toBe('v1');
    await cache.invalidateTags(['character:1'], { soft: true });
    await cache.set('character:1', 'direct', { tags: ['character:1'] });
    expect(await cache.get('character:1')).toBe('direct');
    expect(await cache.get('character:2')).toBe('other');
    // A hard invalidation after a soft one still finds the entry through its tag.
    expect(await cache.invalidateTags(['character:1'])).toBe(1);
    expect(await cache.get('character:1')).toBeUndefined();
  });

  test('soft options are checked', async () => {
    await expect(cache.invalidateTags(['x'], { soft: 'yes' as unknown as boolean })).rejects.toThrow(/option "soft"/);
    await expect(invalidateCharacterCache('1', { soft: 1 as unknown as boolean, cache })).rejects.toThrow(/option "soft"/);
  });
});

describe.each(STORE_KINDS)('soft invalidation of route answers on $name', (kind) => {
  describe.each(EXPRESS_VERSIONS)('with $name', (express) => {
    let cache: Cache;
    let app: Express;
    let calls: number;
    let handlerGate: { promise: Promise<void>; open: () => void } | undefined;

    const build = (staleWhileRevalidate: number | undefined, backgroundRefresh?: boolean): void => {
      app = express.create();
      app.get('/characters/:id', cacheResponse({ cache, ttl: 'character', keyPrefix: 'character', staleWhileRevalidate, backgroundRefresh }), async (req: Request, res: Response) => {
        calls++;
        const mine = calls;
        if (handlerGate) await handlerGate.promise;
        res.json({ id: req.params.id, version: mine });
      });
    };

    beforeEach(() => {
      cache = createCache({ store: kind.make(), namespace: `softhttp-${Math.random().toString(36).slice(2)}` });
      calls = 0;
      handlerGate = undefined;
    });
    afterEach(() => cache.close());

    const get = async (): Promise<string> => {
      const res = await request(app).get('/characters/1');
      return `${String(res.headers['x-cache'])} v${String(res.body.version)}`;
    };

    test('backgroundRefresh: false: STALE while exactly one foreground refresh runs, then the new answer', async () => {
      build(30, false);
      expect(await get()).toBe('MISS v1');
      expect(await get()).toBe('HIT v1');
      expect(await invalidateCharacterCache('1', { soft: true, cache })).toEqual({ removed: 1, pending: false });
      handlerGate = gate();
      // Without background refresh the first request revalidates in the foreground (MISS),
      // concurrent ones are answered at once from the marked entry (__tests__/refresh covers the default).
      const refreshing = get();
      await until(() => calls === 2, 'the refresh to reach the handler');
      expect(await get()).toBe('STALE v1');
      expect(await get()).toBe('STALE v1');
      handlerGate.open();
      expect(await refreshing).toBe('MISS v2');
      await until(async () => (await get()) === 'HIT v2', 'the refreshed answer');
      expect(calls).toBe(2);
    });

    test('a stale answer never outlives its window', async () => {
      build(0.2, false);
      expect(await get()).toBe('MISS v1');
      await cache.invalidateScope('character', '1', { soft: true });
      await sleep(300);
      handlerGate = gate();
      const refreshing = get();
      await until(() => calls === 2, 'the refresh to reach the handler');
      const concurrent = request(app).get('/characters/1').then((res) => res);
      await sleep(50);
      handlerGate.open();
      expect(await refreshing).toBe('MISS v2');
      const late = await concurrent;
      expect(late.headers['x-cache']).not.toBe('STALE');
      expect(late.body.version).toBeGreaterThanOrEqual(2);
    });

    test('invalidateAfter with soft: true marks the route answer stale once the write answered 2xx', async () => {
      build(30);
      app.patch('/characters/:id', invalidateAfter((req) => ({ scopes: [['character', String(req.params.id)]], soft: true }), { cache }), (_req: Request, res: Response) => {
        res.status(204).end();
      });
      expect(await get()).toBe('MISS v1');
      const key = apiKey('character', '/characters/1', '', undefined, { protocol: 'http', host: '127.0.0.1' });
      // The answer is stored after it was sent: wait for it.
      await until(async () => (await cache.peek(key, 30_000))?.stale === false, 'the answer to be stored');
      expect((await request(app).patch('/characters/1')).status).toBe(204);
      await until(async () => (await cache.peek(key, 30_000))?.stale === true, 'the PATCH to mark the answer stale');
      expect((await cache.peek(key, 0))).toBeUndefined(); // a reader without a window misses
    });

    test('without a window, soft is a miss like hard', async () => {
      build(undefined);
      expect(await get()).toBe('MISS v1');
      await invalidateCharacterCache('1', { soft: true, cache });
      expect(await get()).toBe('MISS v2');
      expect(await get()).toBe('HIT v2');
    });
  });
});

describe.each(STORE_KINDS)('cache.delete of a response key on $name', (kind) => {
  test.each(EXPRESS_VERSIONS)('removes every Vary variant ($name)', async (express) => {
    const cache = createCache({ store: kind.make(), namespace: `del-${Math.random().toString(36).slice(2)}` });
    const app = express.create();
    let calls = 0;
    app.get('/greeting', cacheResponse({ cache, ttl: 60, keyPrefix: 'greeting' }), (req: Request, res: Response) => {
      calls++;
      res.set('Vary', 'Accept-Language');
      res.send(`${String(req.headers['accept-language'])} ${calls}`);
    });
    const get = async (language: string): Promise<string> => {
      const res = await request(app).get('/greeting').set('accept-language', language);
      return `${String(res.headers['x-cache'])} ${res.text}`;
    };
    expect(await get('en')).toBe('MISS en 1');
    expect(await get('fr')).toBe('MISS fr 2');
    expect(await get('fr')).toBe('HIT fr 2');
    expect(await cache.delete(apiKey('greeting', '/greeting', '', undefined, { protocol: 'http', host: '127.0.0.1' }))).toBe(true);
    expect(await get('fr')).toBe('MISS fr 3');
    expect(await get('en')).toBe('MISS en 4');
    await cache.close();
  });
});
