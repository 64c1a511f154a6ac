/**
 * `surrogateKeys` and `cacheControlField` of cacheResponse on real Express 4 and 5 apps: the
 * tag headers on misses and hits, their size limits, the purge of what the headers named, and
 * the targeted field read by this cache alone.
 */
import type { Request, Response } from 'express';
import { type IncomingHttpHeaders, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { type Cache, type CacheEvents, InvalidOptionError, SURROGATE_LIMITS, apiKey, getResponse, cacheResponse, createCache, fastlyPurge, invalidateCharacterCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { StandIn } from './stand-in';

/** GETs `path` from `app` with room for 64 KB of headers (Node's client stops at 16 KB). */
async function headersOf(app: ReturnType<(typeof EXPRESS_VERSIONS)[number]['create']>, path: string): Promise<IncomingHttpHeaders> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, headers: { host: '127.0.0.1' }, maxHeaderSize: 64 * 1024 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      }).on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe.each(EXPRESS_VERSIONS)('CDN headers on $name', ({ create }) => {
  let cache: Cache;
  let warnings: Array<CacheEvents['warning']>;
  beforeEach(() => {
    cache = createCache();
    warnings = [];
    cache.on('warning', (warning) => warnings.push(warning));
  });
  afterEach(async () => {
    await cache.close();
  });

  function characterApp(options: Parameters<typeof cacheResponse>[0], handler?: (req: Request, res: Response) => void): ReturnType<typeof create> {
    const app = create();
    app.get('/characters/:id', cacheResponse({ cache, keyPrefix: 'character', ...options }), handler ?? ((req, res) => res.json({ id: req.params.id })));
    return app;
  }

  test('surrogateKeys: true sends the scope, scope tags, own tags and path key as Surrogate-Key, on the miss and the hit', async () => {
    const app = characterApp({ surrogateKeys: true, tags: () => ['leaderboard'] });
    const miss = await request(app).get('/characters/1');
    const hit = await request(app).get('/characters/1');
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    const keys = String(miss.headers['surrogate-key']).split(' ');
    expect(keys.slice(0, 3)).toEqual(['character', 'character:1', 'leaderboard']);
    expect(keys).toHaveLength(4);
    expect(keys[3]).toMatch(/^__path__:[0-9a-f]{40}$/);
    expect(hit.headers['surrogate-key']).toBe(miss.headers['surrogate-key']);
    expect(miss.headers['cache-tag']).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  test('Cache-Tag when asked (comma-separated); neither header without the option', async () => {
    const both = characterApp({ surrogateKeys: { cacheTag: true } });
    const answer = await request(both).get('/characters/2');
    expect(answer.headers['cache-tag']).toMatch(/^character,character:2,__path__:[0-9a-f]{40}$/);
    expect(answer.headers['surrogate-key']).toMatch(/^character character:2 __path__:/);
    const tagOnly = characterApp({ surrogateKeys: { surrogateKey: false, cacheTag: true }, keyPrefix: 'other' });
    const other = await request(tagOnly).get('/characters/2');
    expect(other.headers['surrogate-key']).toBeUndefined();
    expect(other.headers['cache-tag']).toMatch(/^other,other:2,/);
    const none = characterApp({ keyPrefix: 'plain' });
    const plain = await request(none).get('/characters/2');
    expect(plain.headers['surrogate-key']).toBeUndefined();
    expect(plain.headers['cache-tag']).toBeUndefined();
  });

  test('a key over 1 KB, or with a space, is left out of Surrogate-Key with a warning; the rest go', async () => {
    const long = 'x'.repeat(SURROGATE_LIMITS.keyBytes + 1);
    const app = characterApp({ surrogateKeys: { cacheTag: true }, tags: () => [long, 'has space', 'a,b', 'fine'] });
    const answer = await request(app).get('/characters/3');
    const keys = String(answer.headers['surrogate-key']).split(' ');
    expect(keys).toContain('fine');
    expect(keys).toContain('a,b');
    expect(keys).not.toContain(long);
    // Cloudflare's limit is per header only: the long tag goes; the comma cannot.
    const tags = String(answer.headers['cache-tag']).split(',');
    expect(tags).toContain(long);
    expect(tags).not.toContain('a');
    expect(warnings.map(({ code, key }) => [code, key?.length])).toEqual([
      ['surrogate-key-too-long', long.length],
      ['surrogate-key-invalid', 9],
      ['surrogate-key-invalid', 9],
      ['surrogate-key-invalid', 3],
    ]);
    expect(warnings[0]).toMatchObject({ endpoint: 'character', message: expect.stringContaining('Surrogate-Key') });
  });

  test('past 16 KB a header keeps whole keys only, and warns for each key left out', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}${'k'.repeat(998)}`);
    const app = characterApp({ surrogateKeys: { cacheTag: true }, tags: () => many });
    const headers = await headersOf(app, '/characters/4');
    for (const header of ['surrogate-key', 'cache-tag']) {
      const value = String(headers[header]);
      expect(value.length).toBeLessThanOrEqual(SURROGATE_LIMITS.headerBytes);
      const keys = value.split(header === 'cache-tag' ? ',' : ' ');
      // The scope keys first, then as many whole 1000-byte tags as fit.
      expect(keys.slice(0, 2)).toEqual(['character', 'character:4']);
      // (The short path key still fits after the long tags that did not.)
      for (const key of keys.slice(2)) expect(many.includes(key) || key.startsWith('__path__:')).toBe(true);
      expect(keys.length).toBeGreaterThan(10);
    }
    const full = warnings.filter(({ code }) => code === 'surrogate-header-full');
    expect(full.length).toBeGreaterThan(40);
    // Every tag left out of a header is named in a warning.
    const kept = String(headers['surrogate-key']).split(' ');
    for (const tag of many.filter((key) => !kept.includes(key))) expect(full.some(({ key, message }) => key === tag && message.startsWith('Surrogate-Key'))).toBe(true);
  });

  test('a throwing tags or scopeParam function never fails the request: the other keys still go', async () => {
    const app = characterApp({
      surrogateKeys: true,
      scopeParam: () => {
        throw new Error('bad scope param');
      },
      tags: () => {
        throw new Error('bad tags');
      },
    });
    const answer = await request(app).get('/characters/6').expect(200);
    expect(answer.headers['surrogate-key']).toMatch(/^character __path__:[0-9a-f]{40}$/);
  });

  test("the handler's own Surrogate-Key replaces the route's, on the miss and the hit", async () => {
    const app = characterApp({ surrogateKeys: true }, (req, res) => {
      res.setHeader('Surrogate-Key', `mine:${String(req.params.id)}`);
      res.json({ id: req.params.id });
    });
    const miss = await request(app).get('/characters/5');
    const hit = await request(app).get('/characters/5');
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect([miss.headers['surrogate-key'], hit.headers['surrogate-key']]).toEqual(['mine:5', 'mine:5']);
  });

  test('what an invalidation purges is what the headers named: a scope id, and a write through the cache', async () => {
    const api = await new StandIn().start();
    const purging = createCache({ purge: fastlyPurge({ serviceId: 'svc', token: 'token', apiUrl: api.url }) });
    try {
      const app = create();
      app
        .route('/characters/:id')
        .get(cacheResponse({ cache: purging, keyPrefix: 'character', surrogateKeys: true }), (req, res) => res.json({ id: req.params.id }))
        .put((_req, res) => res.status(204).end());
      const answer = await request(app).get('/characters/7');
      const sent = String(answer.headers['surrogate-key']).split(' ');
      await invalidateCharacterCache('7', { cache: purging });
      await request(app).put('/characters/7').expect(204);
      await purging.flushPurges();
      const purged = api.seen.flatMap((seen) => (seen.body as { surrogate_keys: string[] }).surrogate_keys);
      expect(purged).toContain('character:7');
      // The write's path key: the answer's own, so the CDN drops exactly that page.
      expect(purged).toContain(sent[2]);
      for (const key of purged) expect(sent).toContain(key);
    } finally {
      await purging.close();
      await api.stop();
    }
  });

  test('cacheControlField: one route says "CDN 1 hour, this cache 10 s, browsers no-store"', async () => {
    const app = characterApp({}, (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('CDN-Cache-Control', 'max-age=3600');
      res.setHeader('Express-Cache-Control', 'max-age=10');
      res.json({ id: req.params.id });
    });
    const miss = await request(app).get('/characters/8');
    const hit = await request(app).get('/characters/8');
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    for (const answer of [miss, hit]) {
      expect(answer.headers['express-cache-control']).toBeUndefined();
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['cdn-cache-control']).toBe('max-age=3600');
    }
    // This cache's lifetime is its own field's (10 s), not the CDN's; the field is kept for its decisions.
    const entry = await getResponse(cache, apiKey('character', '/characters/8', '', undefined, { protocol: 'http', host: '127.0.0.1' }));
    expect(entry && entry.expiresAt - entry.createdAt).toBe(10_000);
    expect(entry?.headers['express-cache-control']).toBe('max-age=10');
  });

  test('CDN-Cache-Control is left for the CDN: never read here', async () => {
    const app = characterApp({}, (req, res) => {
      res.setHeader('Cache-Control', 'max-age=60');
      res.setHeader('CDN-Cache-Control', 'private');
      res.json({ id: req.params.id });
    });
    await request(app).get('/characters/9');
    const hit = await request(app).get('/characters/9');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['cdn-cache-control']).toBe('private');
    // An app that is itself the edge can read it, by naming it.
    const edge = characterApp({ cacheControlField: 'CDN-Cache-Control', keyPrefix: 'edge' }, (req, res) => {
      res.setHeader('Cache-Control', 'max-age=60');
      res.setHeader('CDN-Cache-Control', 'private');
      res.json({ id: req.params.id });
    });
    await request(edge).get('/characters/9');
    const again = await request(edge).get('/characters/9');
    expect(again.headers['x-cache']).toBe('UNCACHEABLE');
    expect(again.headers['cdn-cache-control']).toBeUndefined();
  });

  test('a named field is read and stripped; cacheControlField: false reads Cache-Control only', async () => {
    const handler = (req: Request, res: Response): void => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-App-Cache', 'max-age=30');
      res.json({ id: req.params.id });
    };
    const named = characterApp({ cacheControlField: 'X-App-Cache' }, handler);
    await request(named).get('/characters/10');
    const hit = await request(named).get('/characters/10');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-app-cache']).toBeUndefined();
    const off = characterApp({ cacheControlField: false, keyPrefix: 'off' }, (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Express-Cache-Control', 'max-age=30');
      res.json({ id: req.params.id });
    });
    await request(off).get('/characters/10');
    const again = await request(off).get('/characters/10');
    expect(again.headers['x-cache']).toBe('UNCACHEABLE');
    expect(again.headers['express-cache-control']).toBe('max-age=30');
  });

  test('invalid options name the option', () => {
    expect(() => cacheResponse({ surrogateKeys: 'yes' as never })).toThrow(InvalidOptionError);
    expect(() => cacheResponse({ surrogateKeys: { cacheTags: true } as never })).toThrow(/cacheTags/);
    expect(() => cacheResponse({ cacheControlField: 'Cache-Control' })).toThrow(/cacheControlField/);
    expect(() => cacheResponse({ cacheControlField: 'cache-control' })).toThrow(/cacheControlField/);
    expect(() => cacheResponse({ cacheControlField: 'bad name' })).toThrow(/cacheControlField/);
  });
});
