import { CACHEABLE_METADATA_KEY, type Cache, Cacheable, RedisStore, configureCache, createCache, getCacheMetadata, getDefaultCache } from '../../lib';
import { freePort } from '../helpers/redis-server';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { type Character, FakeDb, compiledMode, defineServices, recordedLabel } from './fixtures';

// Set per Jest project (see jest.config.js): the protocol this run must have compiled.
const expectedMode = (globalThis as { DECORATOR_MODE?: string }).DECORATOR_MODE;

afterAll(closeStoreClients);

test('this file was compiled for the decorator mode its Jest project names', () => {
  const { CharacterService } = defineServices(createCache());
  expect(expectedMode === 'legacy' || expectedMode === 'standard').toBe(true);
  expect(compiledMode).toBe(expectedMode);
  // Legacy runs also get emitDecoratorMetadata, as NestJS projects do.
  const returnType: unknown = Reflect.getMetadata('design:returntype', CharacterService.prototype, 'getCharacter');
  expect(returnType).toBe(expectedMode === 'legacy' ? Promise : undefined);
});

describe.each(STORE_KINDS)('decorators on $name', (kind) => {
  let cache: Cache;
  let db: FakeDb;
  let services: ReturnType<typeof defineServices>;
  let service: InstanceType<ReturnType<typeof defineServices>['CharacterService']>;
  let setKeys: string[];

  const ada = (): Character => ({ id: 'c1', name: 'Ada', updatedAt: new Date('2026-01-02T03:04:05.006Z') });

  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: 'deco' });
    setKeys = [];
    cache.on('set', ({ key }) => setKeys.push(key));
    db = new FakeDb();
    db.rows.set('c1', ada());
    db.rows.set('c2', { id: 'c2', name: 'Grace', updatedAt: new Date(0) });
    services = defineServices(cache);
    service = new services.CharacterService(db);
  });
  afterEach(() => cache.close());

  test('@Cacheable tags (a function of args and result) are cleared by @CacheEvict tags and invalidateTags', async () => {
    const calls = services.calls;
    await service.team('red');
    await service.team('red');
    expect(calls.filter((c) => c === 'team:red')).toHaveLength(1);
    await service.touchCharacter('c2');
    await service.team('red');
    expect(calls.filter((c) => c === 'team:red')).toHaveLength(2);
    expect(await cache.invalidateTags(['team:red'])).toBe(1);
    await service.team('red');
    expect(calls.filter((c) => c === 'team:red')).toHaveLength(3);
  });

  describe('@Cacheable', () => {
    test('caches under the key function, keeps `this`, and a Date comes back as a Date', async () => {
      const first = await service.getCharacter('c1');
      const second = await service.getCharacter('c1');
      expect(db.reads).toEqual(['c1']);
      expect(setKeys).toEqual(['deco:character:c1']);
      expect(second).toEqual(ada());
      expect(second?.updatedAt).toBeInstanceOf(Date);
      expect(first?.updatedAt.getTime()).toBe(second?.updatedAt.getTime());
      const stored = await cache.get<Character>('character:c1');
      expect(stored?.updatedAt).toBeInstanceOf(Date);
    });

    test('100 concurrent calls for one cold key run the method once', async () => {
      const results = await Promise.all(Array.from({ length: 100 }, () => service.getCharacter('c2')));
      expect(db.reads).toEqual(['c2']);
      expect(results.every((r) => r?.name === 'Grace')).toBe(true);
    });

    test('a rejection is shared by concurrent callers, never cached, and the next call runs the method again', async () => {
      db.failReads = true;
      const failed = await Promise.allSettled([service.getCharacter('c1'), service.getCharacter('c1')]);
      expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(db.reads).toEqual(['c1']);
      await expect(service.getCharacter('c1')).rejects.toThrow('db down reading c1');
      expect(db.reads).toEqual(['c1', 'c1']);
      expect(setKeys).toEqual([]);
      db.failReads = false;
      expect((await service.getCharacter('c1'))?.name).toBe('Ada');
      expect(db.reads).toHaveLength(3);
    });

    test('a key template fills in arguments and their properties', async () => {
      expect(await service.summary('c1', { lang: 'en' })).toBe('en:Ada');
      expect(await service.summary('c1', { lang: 'en' })).toBe('en:Ada');
      expect(await service.summary('c1', { lang: 'fr' })).toBe('fr:Ada');
      expect(setKeys).toEqual(['deco:summary:c1:en', 'deco:summary:c1:fr']);
      expect(db.reads).toHaveLength(2);
    });

    test('scope keys are {scope}:{id} for a primitive first argument, with a hash of any further ones', async () => {
      await service.byScope('c1');
      await service.byScope('c1', undefined);
      await service.byScope('c1', 'full');
      await service.searchScoped({ name: 'x' });
      expect(setKeys).toEqual([
        'deco:character:c1',
        expect.stringMatching(/^deco:character:c1:[0-9a-f]{40}$/),
        expect.stringMatching(/^deco:search:[0-9a-f]{40}$/),
      ]);
      expect(db.reads).toEqual(['c1', 'c1']);
    });

    test('the default key is {Class}.{method}:{hash of args}, blind to object key order', async () => {
      await service.search({ name: 'a', tags: ['x', 'y'] });
      await service.search({ tags: ['x', 'y'], name: 'a' });
      await service.search({ name: 'a', tags: ['y', 'x'] });
      expect(db.reads).toHaveLength(2);
      expect(setKeys).toHaveLength(2);
      for (const key of setKeys) expect(key).toMatch(/^deco:CharacterService\.search:[0-9a-f]{40}$/);
    });

    test('inherited methods keep the declaring class in their default key; static methods work too', async () => {
      const admin = new services.AdminCharacterService(db);
      await admin.search({ name: 'z' });
      expect(await admin.audit('c1')).toBe('audit:Ada');
      expect(await services.CharacterService.version()).toBe('v1');
      expect(await services.CharacterService.version()).toBe('v1');
      expect(setKeys).toEqual([
        expect.stringMatching(/^deco:CharacterService\.search:/),
        expect.stringMatching(/^deco:AdminCharacterService\.audit:/),
        expect.stringMatching(/^deco:CharacterService\.version:/),
      ]);
    });

    test('condition skips caching some results; null is cached only with cacheNull', async () => {
      db.rows.set('v', { id: 'v', name: 'volatile', updatedAt: new Date() });
      await service.conditional('v');
      await service.conditional('v');
      await service.conditional('missing');
      await service.conditional('missing');
      expect(db.reads).toEqual(['v', 'v', 'missing', 'missing']);
      await service.conditional('c1');
      await service.conditional('c1');
      expect(db.reads.filter((id) => id === 'c1')).toHaveLength(1);
      expect(await service.nullable('nobody')).toBeNull();
      expect(await service.nullable('nobody')).toBeNull();
      expect(db.reads.filter((id) => id === 'nobody')).toHaveLength(1);
    });

    test('a key function is called with the instance as this', async () => {
      class Tenanted {
        constructor(readonly tenant: string) {}
        @Cacheable({
          cache,
          key: function (this: Tenanted, id: string) {
            return `${this.tenant}:${id}`;
          },
        })
        async load(id: string): Promise<string> {
          return `${this.tenant} loaded ${id}`;
        }
      }
      expect(await new Tenanted('acme').load('x')).toBe('acme loaded x');
      expect(await new Tenanted('globex').load('x')).toBe('globex loaded x');
      expect(setKeys).toEqual(['deco:acme:x', 'deco:globex:x']);
    });

    test('without a cache option it uses the default cache at call time', async () => {
      const previous = getDefaultCache();
      class Lazy {
        calls = 0;
        @Cacheable({ key: 'lazy:{0}' })
        async load(id: string): Promise<string> {
          this.calls++;
          return `loaded ${id}`;
        }
      }
      configureCache(cache);
      try {
        const lazy = new Lazy();
        expect(await lazy.load('a')).toBe('loaded a');
        expect(await lazy.load('a')).toBe('loaded a');
        expect(lazy.calls).toBe(1);
        expect(await cache.get('lazy:a')).toBe('loaded a');
      } finally {
        configureCache(previous);
      }
    });
  });

  describe('@CacheEvict', () => {
    test('after a write, evicts {scope}:{id} and the keys under it, and nothing else', async () => {
      await service.getCharacter('c1');
      await service.byScope('c1', 'full');
      await service.getCharacter('c2');
      await service.summary('c1', { lang: 'en' });
      const updated = await service.updateCharacter('c1', 'Ada L.');
      expect(updated.name).toBe('Ada L.');
      expect(await cache.get('character:c1')).toBeUndefined();
      expect(await cache.invalidatePattern('character:c1:*')).toBe(0);
      expect(await cache.get('character:c2')).toBeDefined();
      expect(await cache.get('summary:c1:en')).toBe('en:Ada');
      expect((await service.getCharacter('c1'))?.name).toBe('Ada L.');
    });

    test('a method that throws evicts nothing', async () => {
      await service.getCharacter('c1');
      db.failWrites = true;
      await expect(service.updateCharacter('c1', 'never')).rejects.toThrow('db down writing c1');
      await expect(service.rename('c1', 'never')).rejects.toThrow('db down writing c1');
      expect((await cache.get<Character>('character:c1'))?.name).toBe('Ada');
    });

    test('keys can be computed from the result; static keys and patterns work', async () => {
      await service.getCharacter('c1');
      await service.rename('c1', 'Countess');
      expect(await cache.get('character:c1')).toBeUndefined();

      await cache.set('character:all', ['c1']);
      await service.summary('c1', { lang: 'en' });
      await service.summary('c2', { lang: 'de' });
      await service.getCharacter('c2');
      await service.resetSummaries();
      expect(await cache.get('character:all')).toBeUndefined();
      expect(await cache.get('summary:c1:en')).toBeUndefined();
      expect(await cache.get('summary:c2:de')).toBeUndefined();
      expect(await cache.get('character:c2')).toBeDefined();
    });

    test('a scope without id evicts the whole scope only', async () => {
      await service.getCharacter('c1');
      await service.getCharacter('c2');
      await service.summary('c1', { lang: 'en' });
      expect(await service.wipeCharacters()).toBe(1);
      expect(await cache.get('character:c1')).toBeUndefined();
      expect(await cache.get('character:c2')).toBeUndefined();
      expect(await cache.get('summary:c1:en')).toBe('en:Ada');
    });

    test('an id function that gives no id is an error, not a wipe of the whole scope', async () => {
      await service.getCharacter('c1');
      await expect(service.badEvict()).rejects.toThrow(TypeError);
      expect(await cache.get('character:c1')).toBeDefined();
    });
  });

  describe('stacking and metadata', () => {
    test('another decorator outside @Cacheable still wraps every call, and keeps its metadata', async () => {
      expect(await service.stackedUnder('x')).toBe('a:x');
      expect(await service.stackedUnder('x')).toBe('a:x');
      expect(services.calls).toEqual(['outer:x', 'body:x', 'outer:x']);
      expect(recordedLabel(services.CharacterService, 'stackedUnder')).toBe('outer');
    });

    test('another decorator inside @Cacheable runs only on misses, and keeps its metadata', async () => {
      expect(await service.stackedOver('y')).toBe('b:y');
      expect(await service.stackedOver('y')).toBe('b:y');
      expect(services.calls).toEqual(['inner:y', 'body:y']);
      expect(recordedLabel(services.CharacterService, 'stackedOver')).toBe('inner');
    });

    test('getCacheMetadata lists decorated methods with their options, inherited ones included', () => {
      const own = getCacheMetadata(services.CharacterService);
      const byMethod = new Map(own.map((m) => [String(m.method), m]));
      expect(byMethod.get('getCharacter')).toMatchObject({ kind: 'cacheable', static: false, className: 'CharacterService', options: { ttl: 'character' } });
      expect(byMethod.get('updateCharacter')).toMatchObject({ kind: 'evict', options: { scope: 'character' } });
      expect(byMethod.get('version')).toMatchObject({ kind: 'cacheable', static: true });
      expect(byMethod.get('stackedUnder')?.target).toBe(services.CharacterService);
      expect(own).toHaveLength(17);

      const admin = getCacheMetadata(new services.AdminCharacterService(db));
      expect(admin).toHaveLength(18);
      expect(admin[0]).toMatchObject({ method: 'audit', className: 'AdminCharacterService', options: { ttl: 30 } });
      expect(admin.filter((m) => m.className === 'CharacterService')).toHaveLength(17);

      if (compiledMode === 'legacy') {
        // Legacy decorators also leave each method's options where reflect-metadata tools look.
        expect(Reflect.getMetadata(CACHEABLE_METADATA_KEY, services.CharacterService.prototype, 'getCharacter')).toMatchObject({ ttl: 'character' });
      }
    });

    test('decorated methods keep their names', () => {
      expect(services.CharacterService.prototype.getCharacter.name).toBe('getCharacter');
      expect(services.CharacterService.prototype.updateCharacter.name).toBe('updateCharacter');
    });
  });
});

describe('@CacheEvict when the store is down', () => {
  test('the method runs and its result comes back; the eviction is journaled and reported, never thrown into the caller', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, redisOptions: { retryStrategy: () => null } });
    const cache = createCache({ store });
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    const db = new FakeDb();
    const { CharacterService } = defineServices(cache);
    expect((await new CharacterService(db).updateCharacter('c9', 'Saved anyway'))?.name).toBe('Saved anyway');
    expect(db.rows.get('c9')?.name).toBe('Saved anyway');
    expect(errors).toContain('delete');
    // Reads still fall through to the origin.
    db.rows.set('c8', { id: 'c8', name: 'Read', updatedAt: new Date() });
    expect((await new CharacterService(db).getCharacter('c8'))?.name).toBe('Read');
    await cache.close();
  });
});
