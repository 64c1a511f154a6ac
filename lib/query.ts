import { type Cache, WRAP_OPTION_NAMES, type WrapOptions } from './engine/cache';
import { getDefaultCache } from './default-cache';
import type { Ttl } from './ttl';
import { rejectUnknownOptions } from './validate';

/**
 * Options of {@link getCachedQuery}: those of `Cache.wrap`, plus the cache to use.
 *
 * @example
 * ```ts
 * const options: CachedQueryOptions<Character | null> = { ttl: 'character', cacheNull: true, cache: reportsCache };
 * ```
 */
export interface CachedQueryOptions<T = unknown> extends WrapOptions<T> {
  /**
   * The cache to use.
   * @default the default cache ({@link getDefaultCache})
   */
  cache?: Cache;
}

// Cache.wrap's option names plus `cache` (CachedQueryOptions extends WrapOptions).
const CACHED_QUERY_OPTION_NAMES: readonly string[] = Object.freeze([...WRAP_OPTION_NAMES, 'cache']);

/**
 * Returns the cached result of a query, or runs `loader`, caches what it returns and returns it.
 * This is `Cache.wrap` on the default cache (or on `options.cache`): concurrent calls for one key
 * in this process share one loader call, a loader's error reaches every waiting caller and is
 * never cached, `undefined` is never cached and `null` only with `cacheNull: true`. Values keep
 * their types (`Date`, `Buffer`, `BigInt`, `Map`, `Set`, nested objects and arrays).
 *
 * The third argument is a TTL (seconds, a duration string such as `'5m'`, or a profile name) or
 * the full options; an unknown option name rejects with `InvalidOptionError`.
 *
 * @example
 * ```ts
 * const character = await getCachedQuery(`character:${id}`, () => db.characters.find(id), 'character');
 * const page = await getCachedQuery(`search:${q}`, () => search(q), { ttl: 60, condition: (r) => r.length > 0 });
 * ```
 */
export function getCachedQuery<T>(key: string, loader: () => T | Promise<T>, ttlOrOptions?: Ttl | CachedQueryOptions<T>): Promise<T> {
  // Not async: on a hit the caller gets wrap's own promise, without an extra hop.
  if (typeof key !== 'string' || key === '') {
    return Promise.reject(new TypeError(`getCachedQuery: key must be a non-empty string, got ${String(key)}`));
  }
  if (typeof loader !== 'function') return Promise.reject(new TypeError('getCachedQuery: loader must be a function'));
  if (ttlOrOptions === undefined || ttlOrOptions === null || typeof ttlOrOptions !== 'object') {
    return getDefaultCache().wrap(key, loader, { ttl: ttlOrOptions });
  }
  try {
    rejectUnknownOptions('getCachedQuery', ttlOrOptions, CACHED_QUERY_OPTION_NAMES);
  } catch (error) {
    return Promise.reject(error);
  }
  const { cache, ...options } = ttlOrOptions;
  return (cache ?? getDefaultCache()).wrap(key, loader, options);
}
