// A scope invalidation that removes nothing while no route uses that scope says so: one
// `warning` event per scope, naming the routes that exist and the option that connects them.
// On Express 4 and 5, with the route shapes a new user tries first.
import type { Express } from 'express';
import request from 'supertest';
import { type Cache, type CacheEvents, Cacheable, cacheResponse, createCache, invalidateApiCache, invalidateCharacterCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';

async function settle(cache: Cache, sets: number): Promise<void> {
  for (let i = 0; i < 200 && cache.stats().sets < sets; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each(EXPRESS_VERSIONS)('invalidation that reached nothing, on $name', ({ create }) => {
  let cache: Cache;
  let app: Express;
  let warnings: Array<CacheEvents['warning']>;

  beforeEach(() => {
    cache = createCache();
    warnings = [];
    cache.on('warning', (warning) => warnings.push(warning));
    app = create();
  });
  afterEach(() => cache.close());

  test("keyPrefix 'characters' (plural): invalidateCharacterCache warns once, naming the route and keyPrefix/scope", async () => {
    app.get('/characters/:id', cacheResponse({ cache, ttl: 'character', keyPrefix: 'characters' }), (req, res) => res.json({ id: req.params.id }));
    await request(app).get('/characters/1');
    await settle(cache, 1);
    const result = await invalidateCharacterCache('1', { cache });
    expect(result.removed).toBe(0);
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning?.code).toBe('scope-unreached');
    expect(warning?.scope).toBe('character');
    expect(warning?.routes).toEqual([{ endpoint: 'characters', scope: 'characters' }]);
    expect(warning?.message).toContain("invalidating scope 'character' removed nothing");
    expect(warning?.message).toContain('characters');
    expect(warning?.message).toContain("keyPrefix: 'character' or scope: 'character'");
    // Once per scope.
    await invalidateCharacterCache('2', { cache });
    expect(warnings).toHaveLength(1);
  });

  test("a route with only { ttl: 'character' } is named with no scope", async () => {
    app.get('/characters/:id', cacheResponse({ cache, ttl: 'character' }), (req, res) => res.json({ id: req.params.id }));
    await request(app).get('/characters/1');
    await settle(cache, 1);
    await cache.invalidateScope('character', '1');
    expect(warnings.map((w) => w.routes)).toEqual([[{ endpoint: '/characters/:id' }]]);
    expect(warnings[0]?.message).toContain('/characters/:id (no scope)');
  });

  test('a global mount (app.use) is named by the route that answered', async () => {
    app.use(cacheResponse({ cache, ttl: '5 minutes' }));
    app.get('/characters/:id', (req, res) => res.json({ id: req.params.id }));
    await request(app).get('/characters/1');
    await settle(cache, 1);
    await invalidateCharacterCache('1', { cache });
    expect(warnings.map((w) => w.routes)).toEqual([[{ endpoint: '/characters/:id' }]]);
  });

  test('no warning when the scope is declared, even before anything was cached, or when something was removed', async () => {
    // Declared scopes count for the whole process (the cache is known per request only), so
    // this test uses names no other test here invalidates.
    app.get('/heroes/:id', cacheResponse({ cache, keyPrefix: 'hero' }), (req, res) => res.json({ id: req.params.id }));
    expect(await cache.invalidateScope('hero', '9')).toBe(0);
    await request(app).get('/heroes/1');
    await settle(cache, 1);
    expect(await cache.invalidateScope('hero', '1')).toBeGreaterThan(0);
    // Query keys written through the cache count too.
    await cache.set('post:1', 'x');
    await cache.invalidateScope('post', '2');
    expect(warnings).toEqual([]);
  });

  test('a decorator declaring the scope counts as a use', async () => {
    class Reports {
      @Cacheable({ scope: 'report', cache })
      async load(id: string): Promise<string> {
        return id;
      }
    }
    expect(new Reports()).toBeInstanceOf(Reports);
    await cache.invalidateScope('report', '1');
    expect(warnings).toEqual([]);
  });

  test('debug (the option) also logs the warning', async () => {
    const logged: unknown[] = [];
    const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
    try {
      app.get('/things/:id', cacheResponse({ cache, debug: true }), (req, res) => res.json({ id: req.params.id }));
      await request(app).get('/things/1');
      await settle(cache, 1);
      await cache.invalidateScope('thing', '1');
      expect(logged).toHaveLength(1);
      expect(String(logged[0])).toContain("invalidating scope 'thing' removed nothing");
    } finally {
      spy.mockRestore();
    }
  });
});

describe.each(EXPRESS_VERSIONS)('a global mount (app.use(cacheResponse())) on $name', ({ create }) => {
  let cache: Cache;
  let app: Express;
  let calls: number;
  beforeEach(() => {
    cache = createCache();
    calls = 0;
    app = create();
  });
  afterEach(() => cache.close());

  const mount = (options: Parameters<typeof cacheResponse>[0]): void => {
    app.use(cacheResponse({ cache, ...options }));
    app.get('/characters/:id', (req, res) => {
      calls++;
      res.json({ id: req.params.id, calls });
    });
  };

  test("stats group by route, and invalidateApiCache('/characters/:id') reaches its answers", async () => {
    mount({ ttl: '5 minutes' });
    await request(app).get('/characters/1');
    await request(app).get('/characters/2?x=1');
    await settle(cache, 2);
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    expect(Object.keys(cache.stats().endpoints)).toEqual(['/characters/:id']);
    const { removed } = await invalidateApiCache('/characters/:id', { cache });
    expect(removed).toBe(2);
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
    expect((await request(app).get('/characters/2?x=1')).headers['x-cache']).toBe('MISS');
  });

  test("with scope: 'character', scope invalidation reaches the matched route's answers by its :id", async () => {
    mount({ ttl: '5 minutes', scope: 'character' });
    await request(app).get('/characters/1');
    await request(app).get('/characters/2');
    await settle(cache, 2);
    expect((await invalidateCharacterCache('1', { cache })).removed).toBe(1);
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('MISS');
    expect((await request(app).get('/characters/2')).headers['x-cache']).toBe('HIT');
  });
});
