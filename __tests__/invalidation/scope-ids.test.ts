import type { Request, Response } from 'express';
import { type Cache, cacheResponse, createCache, createScopeInvalidator, escapeScopeId, invalidateCharacterCache, queryKey } from '../../lib';
import { invalidateTargets } from '../../lib/invalidation';
import { EXPRESS_VERSIONS, destroyAgent, listen, request, whenSet } from '../http/helpers';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

// Issue 11, item 10, then issue 25: a scope's keys are `{scope}:{id}` and its sub-keys
// `{scope}:{id}:…`, so an id `a:b` written as it is would be a sub-key of `a`. Ids are escaped
// (`a:b` → `a%3Ab`) the same way in route tags, `queryKey` and every invalidation helper, so an
// id with ":" is an id of its own: it can be invalidated, and invalidating `a` never reaches it.
describe.each(STORE_KINDS)('scope ids with ":" on $name', (kind) => {
  let cache: Cache;
  const SEED: Array<[string, string[]?]> = [
    [queryKey('character', 'a')],
    ['character:a:stats'],
    [queryKey('character', 'a:b')],
    ['api:character:h1', ['character:a%3Ab']],
    ['api:character:h2', ['character:a']],
  ];

  beforeEach(async () => {
    cache = createCache({ store: kind.make(), namespace: `scope-ids-${Math.random().toString(36).slice(2)}` });
    for (const [key, tags] of SEED) await cache.set(key, key, { tags });
  });
  afterEach(async () => {
    await cache.clear();
    await cache.close();
  });

  const present = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [key] of SEED) if ((await cache.get(key)) !== undefined) out.push(key);
    return out;
  };

  test('escapeScopeId escapes ":" and "%" only, and queryKey uses it', () => {
    expect(escapeScopeId('a:b')).toBe('a%3Ab');
    expect(escapeScopeId('100%:x')).toBe('100%25%3Ax');
    expect(escapeScopeId('char_123')).toBe('char_123');
    expect(queryKey('character', 'a:b')).toBe('character:a%3Ab');
    expect(queryKey('character', 7)).toBe('character:7');
  });

  test.each([
    ['invalidateCharacterCache', (c: Cache) => invalidateCharacterCache('a:b', c)],
    ['cache.invalidateScope', (c: Cache) => c.invalidateScope('character', 'a:b')],
    ['a scope invalidator', (c: Cache) => createScopeInvalidator('character')('a:b', c)],
    ['invalidateTargets (invalidateAfter, @CacheEvict)', (c: Cache) => invalidateTargets({ scopes: [['character', 'a:b']] }, c)],
  ])("%s('a:b') removes exactly a:b's key and tagged answers", async (_name, invalidate) => {
    await invalidate(cache);
    expect(await present()).toEqual([queryKey('character', 'a'), 'character:a:stats', 'api:character:h2']);
  });

  test("invalidateCharacterCache('a') removes a's key, sub-keys and tag, never the entries of a:b", async () => {
    expect(await invalidateCharacterCache('a', cache)).toEqual({ removed: 3, pending: false });
    expect(await present()).toEqual([queryKey('character', 'a:b'), 'api:character:h1']);
  });

  test.each(EXPRESS_VERSIONS)('a route caching /characters/a:b can be invalidated by its id ($name)', async ({ express }) => {
    const app = express();
    let calls = 0;
    app.get('/characters/:id', cacheResponse({ cache, keyPrefix: 'character', ttl: 60 }), (req: Request, res: Response) => {
      calls++;
      res.send(`${String(req.params.id)} v${calls}`);
    });
    const running = await listen(app);
    try {
      for (const path of ['/characters/a:b', '/characters/a']) {
        const stored = whenSet(cache);
        await request(running.port, path);
        await stored;
      }
      expect((await request(running.port, '/characters/a:b')).headers['x-cache']).toBe('HIT');
      await invalidateCharacterCache('a', cache);
      // `a` is not `a:b`'s parent: its answer stays.
      expect((await request(running.port, '/characters/a:b')).headers['x-cache']).toBe('HIT');
      await invalidateCharacterCache('a:b', cache);
      const after = await request(running.port, '/characters/a:b');
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.body.toString()).toBe('a:b v3');
    } finally {
      await running.close();
    }
  });
});
