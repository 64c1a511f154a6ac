// Everyday switches: skip(req, res), key(req), enabled (option and environment variable),
// ignoreCookies for analytics cookies, and X-Cache: UNCACHEABLE for answers that will not be
// stored. Each on Express 4 and 5, against real servers.
import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type BypassReason, type Cache, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';

/** Waits until `cache` has stored `sets` entries (the write follows the response). */
async function settle(cache: Cache, sets: number): Promise<void> {
  for (let i = 0; i < 200 && cache.stats().sets < sets; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each(EXPRESS_VERSIONS)('everyday switches on $name', ({ create }) => {
  let cache: Cache;
  let app: Express;
  let calls: number;
  let bypasses: BypassReason[];

  const handler = (req: Request, res: Response): void => {
    calls++;
    res.json({ calls, path: req.path });
  };

  beforeEach(() => {
    cache = createCache();
    calls = 0;
    bypasses = [];
    cache.on('bypass', ({ reason }) => bypasses.push(reason));
    app = create();
  });
  afterEach(() => cache.close());

  test('skip(req, res): a skipped request passes through with BYPASS and reason skipped; others are cached', async () => {
    app.get('/items', cacheResponse({ cache, skip: (req) => req.query.preview !== undefined }), handler);
    const skipped = await request(app).get('/items?preview=1');
    expect(skipped.headers['x-cache']).toBe('BYPASS');
    await request(app).get('/items?preview=1');
    expect(calls).toBe(2);
    expect(bypasses).toEqual(['skipped', 'skipped']);
    await request(app).get('/items');
    await settle(cache, 1);
    expect((await request(app).get('/items')).headers['x-cache']).toBe('HIT');
    expect(calls).toBe(3);
  });

  test('skip gets the response too, and a throwing skip passes the request through', async () => {
    let seenRes = false;
    app.get('/a', cacheResponse({ cache, skip: (_req, res) => (seenRes = typeof res.setHeader === 'function') && false }), handler);
    app.get('/b', cacheResponse({ cache, skip: () => { throw new Error('boom'); } }), handler);
    await request(app).get('/a');
    expect(seenRes).toBe(true);
    const thrown = await request(app).get('/b');
    expect(thrown.status).toBe(200);
    expect(thrown.headers['x-cache']).toBe('BYPASS');
  });

  test('key(req): requests mapped to one key share one answer, under api:{endpoint}:{key}', async () => {
    app.get('/search', cacheResponse({ cache, keyPrefix: 'search', key: (req) => String(req.query.q).toLowerCase() }), handler);
    await request(app).get('/search?q=Ada&utm=1');
    await settle(cache, 1);
    const second = await request(app).get('/search?q=ADA');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(calls).toBe(1);
    expect(await cache.has('api:search:ada')).toBe(true);
    expect((await request(app).get('/search?q=bob')).headers['x-cache']).toBe('MISS');
  });

  test('a key function that throws or returns no string passes the request through (key-threw)', async () => {
    app.get('/k', cacheResponse({ cache, key: (req) => (req.query.bad === undefined ? '' : ({} as string)) }), handler);
    expect((await request(app).get('/k')).headers['x-cache']).toBe('BYPASS');
    expect((await request(app).get('/k?bad=1')).headers['x-cache']).toBe('BYPASS');
    expect(bypasses).toEqual(['key-threw', 'key-threw']);
  });

  test('enabled: false on cacheResponse or on createCache is a pass-through with BYPASS', async () => {
    const off = createCache({ enabled: false });
    app.get('/route-off', cacheResponse({ cache, enabled: false }), handler);
    app.get('/cache-off', cacheResponse({ cache: off }), handler);
    for (const path of ['/route-off', '/route-off', '/cache-off', '/cache-off']) {
      expect((await request(app).get(path)).headers['x-cache']).toBe('BYPASS');
    }
    expect(calls).toBe(4);
    expect(bypasses).toEqual(['disabled', 'disabled']);
    expect(off.stats().sets).toBe(0);
    await off.close();
  });

  test('EXPRESS_CACHE_KIT_ENABLED=false turns both off; the options win over it', async () => {
    const before = process.env.EXPRESS_CACHE_KIT_ENABLED;
    process.env.EXPRESS_CACHE_KIT_ENABLED = 'false';
    try {
      const envCache = createCache();
      expect(envCache.enabled).toBe(false);
      app.get('/env', cacheResponse({ cache }), handler);
      app.get('/forced', cacheResponse({ cache, enabled: true }), handler);
      expect((await request(app).get('/env')).headers['x-cache']).toBe('BYPASS');
      expect((await request(app).get('/forced')).headers['x-cache']).toBe('MISS');
      expect(createCache({ enabled: true }).enabled).toBe(true);
      await envCache.close();
    } finally {
      if (before === undefined) delete process.env.EXPRESS_CACHE_KIT_ENABLED;
      else process.env.EXPRESS_CACHE_KIT_ENABLED = before;
    }
  });

  test('analytics cookies (_ga, _ga_*, _gid) do not bypass; any other cookie does; ignoreCookies: [] restores it', async () => {
    app.get('/page', cacheResponse({ cache }), handler);
    app.get('/strict', cacheResponse({ cache, ignoreCookies: [] }), handler);
    const analytics = '_ga=GA1.1.1; _ga_ABC123=GS1.1; _gid=GA1.1.2';
    expect((await request(app).get('/page').set('Cookie', analytics)).headers['x-cache']).toBe('MISS');
    await settle(cache, 1);
    expect((await request(app).get('/page').set('Cookie', analytics)).headers['x-cache']).toBe('HIT');
    expect((await request(app).get('/page').set('Cookie', `${analytics}; session=abc`)).headers['x-cache']).toBe('BYPASS');
    expect((await request(app).get('/strict').set('Cookie', '_ga=GA1.1.1')).headers['x-cache']).toBe('BYPASS');
    expect(bypasses).toEqual(['cookie', 'cookie']);
  });

  test('ignoreCookies takes globs and RegExps', async () => {
    app.get('/p', cacheResponse({ cache, ignoreCookies: ['consent_*', /^theme$/] }), handler);
    expect((await request(app).get('/p').set('Cookie', 'consent_v2=yes; theme=dark')).headers['x-cache']).toBe('MISS');
    expect((await request(app).get('/p').set('Cookie', '_ga=1')).headers['x-cache']).toBe('BYPASS');
  });

  test('an answer that will not be stored says X-Cache: UNCACHEABLE, not MISS', async () => {
    app.get('/cookie', cacheResponse({ cache }), (_req, res) => {
      calls++;
      res.cookie('session', 'secret').json({ calls });
    });
    app.get('/private', cacheResponse({ cache }), (_req, res) => {
      calls++;
      res.set('Cache-Control', 'private').json({ calls });
    });
    app.get('/missing', cacheResponse({ cache }), (_req, res) => {
      calls++;
      res.status(404).json({ calls });
    });
    for (const path of ['/cookie', '/private', '/missing']) {
      const first = await request(app).get(path);
      expect([path, first.headers['x-cache']]).toEqual([path, 'UNCACHEABLE']);
      expect((await request(app).get(path)).headers['x-cache']).toBe('UNCACHEABLE');
    }
    expect(calls).toBe(6);
    expect(cache.stats().sets).toBe(0);
  });
});
