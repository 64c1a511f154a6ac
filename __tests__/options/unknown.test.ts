// Misspelled option names must fail at construction, naming the owner and the closest known
// name: JavaScript callers (and TypeScript ones passing a variable) get no compile-time check.
// Options are passed through `loose` so these calls type-check as plain JavaScript would run.
import {
  CacheEvict,
  Cacheable,
  InvalidOptionError,
  MemoryStore,
  RedisStore,
  cacheResponse,
  createCache,
  getCachedQuery,
  invalidateAfter,
  warmRoutes,
} from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { prometheusMetrics } from '../../lib/metrics/prometheus';
import { closestName, optionNames, rejectUnknownOptions } from '../../lib/validate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (value: object): any => value;

function caught(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, nothing was thrown');
}

describe('unknown option names are rejected with a "did you mean"', () => {
  test.each([
    ['cacheResponse', () => cacheResponse(loose({ tll: 5 })), 'tll', 'ttl'],
    ['cacheResponse', () => cacheResponse(loose({ keyprefix: 'x' })), 'keyprefix', 'keyPrefix'],
    ['cacheResponse', () => cacheResponse(loose({ staleWhileRevalidte: 5 })), 'staleWhileRevalidte', 'staleWhileRevalidate'],
    ['limiter', () => cacheResponse(loose({ limiter: { minIntervalMS: 5 } })), 'limiter.minIntervalMS', 'minIntervalMs'],
    ['createCache', () => createCache(loose({ namespce: 'app' })), 'namespce', 'namespace'],
    ['createCache breaker', () => createCache(loose({ breaker: { failureTreshold: 2 } })), 'breaker.failureTreshold', 'failureThreshold'],
    ['createCache lock', () => createCache(loose({ lock: { waitMS: 2 } })), 'lock.waitMS', 'waitMs'],
    ['MemoryStore', () => new MemoryStore(loose({ maxEntrys: 5 })), 'maxEntrys', 'maxEntries'],
    ['RedisStore', () => new RedisStore(loose({ url: 'redis://127.0.0.1:1', operationTimeout: 5 })), 'operationTimeout', 'operationTimeoutMs'],
    ['invalidateAfter', () => invalidateAfter({ tags: ['t'] }, loose({ onErorr: () => undefined })), 'onErorr', 'onError'],
    ['invalidateAfter targets', () => invalidateAfter(loose({ scope: ['character'] })), 'spec.scope', 'scopes'],
    ['@Cacheable', () => Cacheable(loose({ tll: 5 })), 'tll', 'ttl'],
    ['@CacheEvict', () => CacheEvict(loose({ key: 'k' })), 'key', 'keys'],
  ])('%s: %#', (owner, run, option, suggestion) => {
    const error = caught(run);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`unknown option '${option.split('.').pop() ?? ''}' of ${owner}; did you mean '${suggestion}'?`);
  });

  test('the message the issue asks for', () => {
    expect(caught(() => cacheResponse(loose({ tll: 5 }))).message).toBe(`option "tll": unknown option 'tll' of cacheResponse; did you mean 'ttl'?`);
  });

  test('without a close name, the known names are listed', () => {
    const error = caught(() => new MemoryStore(loose({ maxSize: 5 })));
    expect(error.message).toBe(`option "maxSize": unknown option 'maxSize' of MemoryStore; known options: maxEntries, maxBytes`);
  });

  test('getCachedQuery rejects (it returns a promise) and never calls the loader', async () => {
    let calls = 0;
    const cache = createCache();
    const result = getCachedQuery('k', () => ++calls, loose({ cache, ttl: 5, cachNull: true }));
    await expect(result).rejects.toThrow(`unknown option 'cachNull' of getCachedQuery; did you mean 'cacheNull'?`);
    expect(calls).toBe(0);
    await cache.close();
  });

  test('every known name is accepted (the lists match the option interfaces)', async () => {
    const cache = createCache({ store: new MemoryStore({ maxEntries: 10, maxBytes: 1 << 20 }), namespace: 'n', defaultTtl: 5, ttlProfiles: {}, breaker: { failureThreshold: 1, coolDownMs: 1, journalLimit: 1 }, lock: { ttlMs: 1, waitMs: 1, pollMs: 1 } });
    expect(() =>
      cacheResponse({
        ttl: 5, keyPrefix: 'k', cache, statuses: [200], shareAuthenticated: false, maxBodyBytes: 10, tags: () => [], varyBy: [], ignoreQuery: [],
        maxKeyLength: 64, ttlFromCacheControl: false, cacheControl: 'public', honorNoCache: false, compressStoredBodiesOver: 0,
        staleWhileRevalidate: 1, staleIfError: 1, limiter: { name: 'x', minIntervalMs: 1, maxPerWindow: 1, windowMs: 1 },
      }),
    ).not.toThrow();
    await expect(getCachedQuery('q', () => 1, { cache, ttl: 5, cacheNull: true, condition: () => true, tags: [], refreshAhead: 0.5, staleWhileRevalidate: 1, staleIfError: 1 })).resolves.toBe(1);
    await cache.close();
  });
});

describe('the helpers', () => {
  test('closestName: case-insensitive, bounded by about one edit per three characters', () => {
    expect(closestName('TTL', ['ttl', 'tags'])).toBe('ttl');
    expect(closestName('charcter', ['character', 'content_metadata'])).toBe('character');
    expect(closestName('maxSize', ['maxEntries', 'maxBytes'])).toBeUndefined();
    expect(closestName('x', [])).toBeUndefined();
  });

  test('rejectUnknownOptions ignores inherited and symbol keys, checks own ones', () => {
    const withProto = Object.create({ inherited: 1 }) as object;
    expect(() => rejectUnknownOptions('o', withProto, ['a'])).not.toThrow();
    expect(() => rejectUnknownOptions('o', { [Symbol('s')]: 1 }, ['a'])).not.toThrow();
    expect(() => rejectUnknownOptions('o', { a: 1, b: undefined }, ['a'])).toThrow(InvalidOptionError);
  });

  test('optionNames returns the names, frozen', () => {
    const names = optionNames<{ a?: number; b: string }>({ a: true, b: true });
    expect(names).toEqual(['a', 'b']);
    expect(Object.isFrozen(names)).toBe(true);
  });
});

describe('the add-ons reject unknown option names too', () => {
  const cache = createCache({ store: new MemoryStore() });
  afterAll(() => cache.close());

  test('cacheDashboard: authorise → authorize', () => {
    const error = caught(() => cacheDashboard(loose({ cache, authorise: () => true })));
    expect(error.message).toMatch(/authorise.*did you mean 'authorize'/);
  });

  test('prometheusMetrics: registry → register', () => {
    const error = caught(() => prometheusMetrics(loose({ cache, registry: undefined })));
    expect(error.message).toMatch(/registry.*did you mean 'register'/);
  });

  test('warmRoutes: baseURL → baseUrl (thrown before any request)', () => {
    const error = caught(() => warmRoutes([{ url: 'http://127.0.0.1:9/' }], loose({ baseURL: 'http://127.0.0.1:9' })));
    expect(error.message).toMatch(/baseURL.*did you mean 'baseUrl'/);
  });

  test('createCache bus: chanel → channel', () => {
    const error = caught(() => createCache({ store: new MemoryStore(), l1: {}, bus: loose({ chanel: 'x' }) }));
    expect(error.option).toBe('bus.chanel');
    expect(error.message).toMatch(/did you mean 'channel'/);
  });
});
