import { createCache } from './compose';
import { Cache } from './engine/cache';
import type { CacheOptions } from './engine/options';

let defaultCache: Cache | undefined;

/**
 * Sets the cache used by the middleware, decorators and helpers when none is passed to them.
 * Pass a {@link Cache} or options for {@link createCache}. The previous default is not closed
 * (other code may still hold it); close it yourself if it is no longer used.
 *
 * @example
 * ```ts
 * configureCache({ store: new RedisStore({ url: process.env.REDIS_URL }), namespace: 'myapp' });
 * ```
 */
export function configureCache(optionsOrCache: CacheOptions | Cache = {}): Cache {
  defaultCache = optionsOrCache instanceof Cache ? optionsOrCache : createCache(optionsOrCache);
  return defaultCache;
}

/**
 * The default cache: the one set by {@link configureCache}, else a cache on a new
 * `MemoryStore`, created on first use.
 *
 * @example
 * ```ts
 * console.log(getDefaultCache().stats());
 * ```
 */
export function getDefaultCache(): Cache {
  defaultCache ??= createCache();
  return defaultCache;
}
