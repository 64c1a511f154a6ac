import type { Cache, InvalidateOptions, InvalidationResult, InvalidationTargets } from './engine/cache';
import { getDefaultCache } from './default-cache';
import { InvalidOptionError } from './errors';
import { escapeGlob } from './keys';
import { optionNames, optionalBoolean, plainObject, rejectUnknownOptions, resolveScope } from './validate';

export type { InvalidationResult, InvalidationTargets } from './engine/cache';

/**
 * Options of the invalidation helpers. The cache used to be the helpers' last positional
 * argument; passing a `Cache` there still works.
 *
 * @example
 * ```ts
 * await invalidateCharacterCache('1', { soft: true, cache });
 * ```
 */
export interface InvalidationHelperOptions extends InvalidateOptions {
  /**
   * The cache to invalidate.
   * @default the default cache ({@link getDefaultCache})
   */
  cache?: Cache;
}

const HELPER_OPTION_NAMES = optionNames<InvalidationHelperOptions>({ soft: true, strict: true, cache: true });

function isCache(value: unknown): value is Cache {
  return typeof value === 'object' && value !== null && typeof (value as { invalidateScope?: unknown }).invalidateScope === 'function';
}

/** Accepts `{ soft?, strict?, cache? }` or, as before, a `Cache`. @internal */
function helperOptions(arg: InvalidationHelperOptions | Cache | undefined): { cache: Cache; options: InvalidateOptions } {
  if (arg === undefined) return { cache: getDefaultCache(), options: {} };
  if (isCache(arg)) return { cache: arg, options: {} };
  if (typeof arg === 'number') throw new InvalidOptionError('options', `expected an options object like { soft: true }, got the number ${String(arg)}`);
  plainObject('options', arg);
  rejectUnknownOptions('invalidation helper', arg, HELPER_OPTION_NAMES);
  const soft = optionalBoolean('soft', arg.soft, false);
  const strict = optionalBoolean('strict', arg.strict, false);
  if (arg.cache !== undefined && !isCache(arg.cache)) throw new InvalidOptionError('cache', 'expected a Cache made by createCache');
  return { cache: arg.cache ?? getDefaultCache(), options: { soft, strict } };
}

/**
 * Invalidates `targets` with the resolved options, through the one invalidation path
 * (`Cache.invalidate`); a bad options object rejects rather than throws.
 */
function invalidateWith(arg: InvalidationHelperOptions | Cache | undefined, targets: () => InvalidationTargets): Promise<InvalidationResult> {
  try {
    const { cache, options } = helperOptions(arg);
    return cache.invalidate(targets(), options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Invalidates the `character` scope: with an id, `character:{id}`, `character:{id}:*` and every
 * entry tagged `character:{id}`, which includes every answer of a route cached with
 * `cacheResponse({ keyPrefix: 'character' })` for that id (all query strings and variants);
 * without one, every `character:*` and `api:character:*` entry and every `character:*` tag. The
 * id is glob-escaped: `'a*'` never touches `character:ab`. With `{ soft: true }` the entries are
 * marked stale instead (served once within their stale-while-revalidate window while one
 * refresh runs). Resolves with `{ removed, pending }`: `pending` when the store could not take
 * it now; it is then journaled, applied when the store answers again (its reads are misses
 * until then), and an `error` event is emitted. With `{ strict: true }` that case rejects
 * with an `InvalidationPendingError` instead. Never rejects because the store is down otherwise.
 *
 * @example
 * ```ts
 * await updateCharacter(id, changes);
 * await invalidateCharacterCache(id);                 // GET /characters/:id is a MISS again
 * await invalidateCharacterCache(id, { soft: true }); // ...or STALE once, then the new answer
 * ```
 */
export function invalidateCharacterCache(id?: string | number, options?: InvalidationHelperOptions | Cache): Promise<InvalidationResult> {
  return invalidateWith(options, () => ({ scopes: [scopeTarget('character', id)] }));
}

/**
 * Invalidates the `content` scope, exactly like {@link invalidateCharacterCache} does for
 * `character`. Resolves with `{ removed, pending }` (see {@link invalidateCharacterCache}).
 *
 * @example
 * ```ts
 * await invalidateContentCache('post_42');
 * await invalidateContentCache('post_42', { soft: true });
 * ```
 */
export function invalidateContentCache(id?: string | number, options?: InvalidationHelperOptions | Cache): Promise<InvalidationResult> {
  return invalidateWith(options, () => ({ scopes: [scopeTarget('content', id)] }));
}

/**
 * Removes cached API responses: those of one endpoint (`api:{endpoint}:*`, the endpoint being
 * the middleware's `keyPrefix` or route path, glob-escaped, plus the answers a global
 * `app.use(cacheResponse())` stored for that route, tagged `api:{route}`), or every `api:*`
 * entry. Nothing outside `api:` is touched. Resolves with `{ removed, pending }` (see {@link invalidateCharacterCache}).
 *
 * @example
 * ```ts
 * await invalidateApiCache('status'); // what cacheResponse({ keyPrefix: 'status' }) stored
 * await invalidateApiCache();         // every cached response
 * await invalidateApiCache('status', { soft: true }); // stale, refreshed on the next request
 * ```
 */
export function invalidateApiCache(endpoint?: string, options?: InvalidationHelperOptions | Cache): Promise<InvalidationResult> {
  return invalidateWith(options, () => {
    if (endpoint === undefined) return { patterns: ['api:*'] };
    if (typeof endpoint !== 'string' || endpoint === '') throw new InvalidOptionError('endpoint', `expected a non-empty string, got ${String(endpoint)}`);
    // The tag reaches answers stored by a global mount (`app.use(cacheResponse())`), keyed by path.
    return { patterns: [`api:${escapeGlob(endpoint)}:*`], tags: [`api:${endpoint}`] };
  });
}

/**
 * Removes every entry whose key (without namespace) matches the Redis glob `pattern`, with
 * `SCAN` in batches and pipelined `UNLINK` (every master of a cluster). The pattern is used as
 * given: escape ids inside it with {@link escapeGlob}. Resolves with `{ removed, pending }`.
 *
 * @example
 * ```ts
 * await invalidateCacheByPattern(`character:${escapeGlob(id)}:*`);
 * await invalidateCacheByPattern('feed:*', { soft: true });
 * ```
 */
export function invalidateCacheByPattern(pattern: string, options?: InvalidationHelperOptions | Cache): Promise<InvalidationResult> {
  return invalidateWith(options, () => {
    if (typeof pattern !== 'string' || pattern === '') throw new InvalidOptionError('pattern', `expected a non-empty glob, got ${String(pattern)}`);
    return { patterns: [pattern] };
  });
}

/**
 * An invalidation helper for one scope, as made by {@link createScopeInvalidator}: pass an id
 * for one item or nothing for the whole scope, and optionally `{ soft?, cache? }` (or a `Cache`).
 *
 * @example
 * ```ts
 * const invalidateUserCache: ScopeInvalidator = createScopeInvalidator('user');
 * ```
 */
export type ScopeInvalidator = (id?: string | number, options?: InvalidationHelperOptions | Cache) => Promise<InvalidationResult>;

/**
 * Makes a helper like {@link invalidateCharacterCache} for a scope of your own. The scope name
 * is checked here, once.
 *
 * @example
 * ```ts
 * export const invalidateUserCache = createScopeInvalidator('user');
 * await invalidateUserCache('u_1'); // user:u_1, user:u_1:*, tag user:u_1
 * ```
 */
export function createScopeInvalidator(scope: string): ScopeInvalidator {
  const resolved = resolveScope(scope, undefined).scope;
  return (id, options) => invalidateWith(options, () => ({ scopes: [scopeTarget(resolved, id)] }));
}

/** A scope target, its id checked now (a bad id rejects the call before anything runs). */
function scopeTarget(scope: string, id: string | number | undefined): readonly [string, (string | number)?] {
  resolveScope(scope, id);
  return id === undefined ? [scope] : [scope, id];
}

/**
 * Runs every invalidation in `targets` (scopes, tags, keys, patterns) through `cache.invalidate`
 * and resolves with what was done. One failing target does not stop the others.
 * @internal
 */
export function invalidateTargets(targets: InvalidationTargets, cache: Cache, options: InvalidateOptions = {}): Promise<InvalidationResult> {
  return cache.invalidate(targets, { ...options, soft: optionalBoolean('soft', targets.soft, options.soft ?? false) });
}
