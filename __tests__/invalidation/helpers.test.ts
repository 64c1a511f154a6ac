import {
  type Cache,
  InvalidOptionError,
  configureCache,
  createCache,
  createScopeInvalidator,
  invalidateApiCache,
  invalidateCacheByPattern,
  invalidateCharacterCache,
  invalidateContentCache,
} from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

const SEED: Array<[string, string, string[]?]> = [
  ['character:a*', 'star'],
  ['character:ab', 'ab'],
  ['character:ab:stats', 'ab stats'],
  ['content:post_1', 'post'],
  ['content:post_1:comments', 'comments'],
  ['api:status:h1', 'status 1'],
  ['api:status:h2', 'status 2'],
  ['api:character:h3', 'character response', ['character:ab']],
  ['api:/characters/:id:h4', 'route-keyed response'],
  ['apiary:1', 'not an api entry'],
  ['user:u1', 'user', ['user:u1']],
];

describe.each(STORE_KINDS)('invalidation helpers on $name', (kind) => {
  let cache: Cache;
  beforeEach(async () => {
    cache = createCache({ store: kind.make(), namespace: 'helpers' });
    for (const [key, value, tags] of SEED) await cache.set(key, value, { tags });
  });
  afterEach(() => cache.close());

  const present = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [key] of SEED) if ((await cache.get(key)) !== undefined) out.push(key);
    return out;
  };

  test('invalidateApiCache() clears every api:* entry and nothing else', async () => {
    expect(await invalidateApiCache(undefined, cache)).toEqual({ removed: 4, pending: false });
    expect(await present()).toEqual(['character:a*', 'character:ab', 'character:ab:stats', 'content:post_1', 'content:post_1:comments', 'apiary:1', 'user:u1']);
  });

  test('invalidateApiCache(endpoint) clears one endpoint, route paths included', async () => {
    expect(await invalidateApiCache('status', cache)).toEqual({ removed: 2, pending: false });
    expect(await invalidateApiCache('/characters/:id', cache)).toEqual({ removed: 1, pending: false });
    expect(await present()).toContain('api:character:h3');
    await expect(invalidateApiCache('', cache)).rejects.toBeInstanceOf(InvalidOptionError);
  });

  test("invalidateCharacterCache('a*') never touches character:ab", async () => {
    expect(await invalidateCharacterCache('a*', cache)).toEqual({ removed: 1, pending: false });
    expect(await present()).toEqual(expect.arrayContaining(['character:ab', 'character:ab:stats', 'api:character:h3']));
    expect(await present()).not.toContain('character:a*');
  });

  test('invalidateCharacterCache(id) removes the key, its sub-keys and the responses tagged with it', async () => {
    expect(await invalidateCharacterCache('ab', cache)).toEqual({ removed: 3, pending: false });
    expect(await present()).toEqual(['character:a*', 'content:post_1', 'content:post_1:comments', 'api:status:h1', 'api:status:h2', 'api:/characters/:id:h4', 'apiary:1', 'user:u1']);
  });

  test('invalidateContentCache with and without an id', async () => {
    expect(await invalidateContentCache('post_1', cache)).toEqual({ removed: 2, pending: false });
    await cache.set('content:post_2', 'p2');
    expect(await invalidateContentCache(undefined, cache)).toEqual({ removed: 1, pending: false });
    expect(await present()).toContain('character:ab');
  });

  test('invalidateCacheByPattern takes a raw glob', async () => {
    expect(await invalidateCacheByPattern('character:a?', cache)).toEqual({ removed: 2, pending: false }); // a* and ab: the ? is a glob here
  });

  test('createScopeInvalidator makes a helper for an app scope, and checks the scope once', async () => {
    const invalidateUserCache = createScopeInvalidator('user');
    expect(await invalidateUserCache('u1', cache)).toEqual({ removed: 1, pending: false });
    expect(await present()).not.toContain('user:u1');
    expect(() => createScopeInvalidator('')).toThrow(InvalidOptionError);
  });

  test('helpers use the default cache when none is passed', async () => {
    configureCache(cache);
    try {
      expect(await invalidateCharacterCache('ab')).toEqual({ removed: 3, pending: false });
      expect(await invalidateApiCache()).toEqual({ removed: 3, pending: false });
      expect(await invalidateCacheByPattern('user:*')).toEqual({ removed: 1, pending: false });
    } finally {
      configureCache();
    }
  });
});
