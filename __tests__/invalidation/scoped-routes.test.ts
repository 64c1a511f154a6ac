import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, cacheResponse, createCache, invalidateAfter, invalidateCharacterCache } from '../../lib';
import { scopeTags } from '../../lib/http/scope-tags';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

/** Polls `check` until it holds; invalidateAfter runs after the response, so tests wait for it. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('scopeTags', () => {
  test('the first route parameter by default, a named one, or several from a function', () => {
    expect(scopeTags({ scope: 'character', param: undefined }, { id: '1', other: 'x' })).toEqual(['character:1']);
    expect(scopeTags({ scope: 'character', param: 'characterId' }, { userId: 'u', characterId: 'c9' })).toEqual(['character:c9']);
    expect(scopeTags({ scope: 'team', param: (p) => [p.a ?? '', String(p.b), 7] }, { a: 'x', b: 'y' })).toEqual(['team:x', 'team:y', 'team:7']);
  });

  test('no scope, no parameter or an empty value: no tags', () => {
    expect(scopeTags({ scope: undefined, param: undefined }, { id: '1' })).toEqual([]);
    expect(scopeTags({ scope: 'character', param: undefined }, {})).toEqual([]);
    expect(scopeTags({ scope: 'character', param: 'missing' }, { id: '1' })).toEqual([]);
    expect(scopeTags({ scope: 'character', param: () => ['', undefined as unknown as string] }, { id: '1' })).toEqual([]);
  });
});

describe.each(STORE_KINDS)('scoped route answers on $name', (kind) => {
  describe.each(EXPRESS_VERSIONS)('with $name', (version) => {
    let cache: Cache;
    let app: Express;
    const rows = new Map<string, { name: string }>();
    let removed: number | undefined;

    beforeEach(() => {
      cache = createCache({ store: kind.make(), namespace: `scoped-${Math.random().toString(36).slice(2)}` });
      rows.set('1', { name: 'Ada' });
      rows.set('2', { name: 'Grace' });
      removed = undefined;
      app = version.create();
      // The README's quick-start route, as a newcomer writes it.
      app.get('/characters/:id', cacheResponse({ cache, ttl: 'character', keyPrefix: 'character' }), (req: Request, res: Response) => {
        // Vary on a header for one query string, to prove every variant is reached.
        if (req.query.lang !== undefined) res.setHeader('Vary', 'Accept-Language');
        res.json(rows.get(String(req.params.id)));
      });
      app.post('/characters/:id', async (req: Request, res: Response) => {
        rows.set(String(req.params.id), { name: 'Ada Lovelace' });
        removed = (await invalidateCharacterCache(String(req.params.id), { cache })).removed;
        res.json({ removed });
      });
      app.put(
        '/characters/:id',
        invalidateAfter((req) => ({ scopes: [['character', String(req.params.id)]] }), { cache }),
        (req: Request, res: Response) => {
          rows.set(String(req.params.id), { name: 'Ada Lovelace' });
          res.status(204).end();
        },
      );
    });
    afterEach(() => cache.close());

    const get = async (path: string, headers: Record<string, string> = {}): Promise<string> => {
      const res = await request(app).get(path).set(headers);
      expect(res.status).toBe(200);
      return `${String(res.headers['x-cache'])} ${JSON.stringify(res.body)}`;
    };

    test('the newcomer transcript: GET, GET, POST with invalidateCharacterCache, GET ends in MISS with the new row', async () => {
      expect(await get('/characters/1')).toBe('MISS {"name":"Ada"}');
      expect(await get('/characters/1')).toBe('HIT {"name":"Ada"}');
      expect(await get('/characters/2')).toBe('MISS {"name":"Grace"}');
      const post = await request(app).post('/characters/1');
      expect(post.status).toBe(200);
      expect(removed).toBeGreaterThan(0);
      expect(await get('/characters/1')).toBe('MISS {"name":"Ada Lovelace"}');
      expect(await get('/characters/1')).toBe('HIT {"name":"Ada Lovelace"}');
      expect(await get('/characters/2')).toBe('HIT {"name":"Grace"}');
    });

    test('every query string and Vary variant of /characters/1 goes; /characters/2 stays', async () => {
      expect(await get('/characters/1?x=1')).toBe('MISS {"name":"Ada"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'en' })).toBe('MISS {"name":"Ada"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'fr' })).toBe('MISS {"name":"Ada"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'fr' })).toBe('HIT {"name":"Ada"}');
      expect(await get('/characters/2?lang=1', { 'accept-language': 'fr' })).toBe('MISS {"name":"Grace"}');
      // Hits wait for a fill still being written, so every entry above is in the store now.
      expect(await get('/characters/1?x=1')).toBe('HIT {"name":"Ada"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'en' })).toBe('HIT {"name":"Ada"}');
      expect(await get('/characters/2?lang=1', { 'accept-language': 'fr' })).toBe('HIT {"name":"Grace"}');
      rows.set('1', { name: 'Ada Lovelace' });
      expect(await cache.invalidateScope('character', '1')).toBeGreaterThanOrEqual(4); // 2 variants, their record, ?x=1
      expect(await get('/characters/1?x=1')).toBe('MISS {"name":"Ada Lovelace"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'en' })).toBe('MISS {"name":"Ada Lovelace"}');
      expect(await get('/characters/1?lang=1', { 'accept-language': 'fr' })).toBe('MISS {"name":"Ada Lovelace"}');
      expect(await get('/characters/2?lang=1', { 'accept-language': 'fr' })).toBe('HIT {"name":"Grace"}');
    });

    test('invalidateAfter with a scope clears the route answer after a 2xx write', async () => {
      expect(await get('/characters/1')).toBe('MISS {"name":"Ada"}');
      expect(await get('/characters/2')).toBe('MISS {"name":"Grace"}');
      expect((await request(app).put('/characters/1')).status).toBe(204);
      await eventually(async () => (await get('/characters/1')) === 'MISS {"name":"Ada Lovelace"}', 'the PUT to invalidate /characters/1');
      expect(await get('/characters/2')).toBe('HIT {"name":"Grace"}');
    });
  });
});
