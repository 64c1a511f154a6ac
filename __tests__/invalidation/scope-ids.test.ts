import { type Cache, InvalidOptionError, createCache, createScopeInvalidator, invalidateCharacterCache } from '../../lib';
import { invalidateTargets } from '../../lib/invalidation';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

// Issue 11, item 10. A scope's keys are `{scope}:{id}` and its sub-keys `{scope}:{id}:…`, so an
// id `a:b` cannot be told from a sub-key `b` of `a`: ids with ":" are rejected, with an error
// that says why, and nothing is removed.
describe.each(STORE_KINDS)('scope ids with ":" on $name', (kind) => {
  let cache: Cache;
  const SEED: Array<[string, string[]?]> = [['character:a'], ['character:a:stats'], ['api:character:h1', ['character:a:b']], ['api:character:h2', ['character:a']]];

  beforeEach(async () => {
    cache = createCache({ store: kind.make(), namespace: 'scope-ids' });
    for (const [key, tags] of SEED) await cache.set(key, key, { tags });
  });
  afterEach(() => cache.close());

  const present = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [key] of SEED) if ((await cache.get(key)) !== undefined) out.push(key);
    return out;
  };

  test.each([
    ['invalidateCharacterCache', (c: Cache) => invalidateCharacterCache('a:b', c)],
    ['cache.invalidateScope', (c: Cache) => c.invalidateScope('character', 'a:b')],
    ['a scope invalidator', (c: Cache) => createScopeInvalidator('character')(':', c)],
    ['invalidateTargets (invalidateAfter, @CacheEvict)', (c: Cache) => invalidateTargets({ scopes: [['character', 'x:']] }, c)],
  ])('%s rejects an id with ":" naming the option, and removes nothing', async (_name, invalidate) => {
    const error: unknown = await invalidate(cache).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('id');
    expect((error as Error).message).toMatch(/contains ":"/);
    expect(await present()).toEqual(SEED.map(([key]) => key));
  });

  test("invalidateCharacterCache('a') removes a's key, sub-keys and tag, never a route answer tagged character:a:b", async () => {
    expect(await invalidateCharacterCache('a', cache)).toEqual({ removed: 3, pending: false });
    expect(await present()).toEqual(['api:character:h1']);
  });
});
