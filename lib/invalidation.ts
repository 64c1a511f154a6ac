import type { Cache, InvalidateOptions } from './engine/cache';
import { getDefaultCache } from './default-cache';
import { InvalidOptionError } from './errors';
import { escapeGlob } from './keys';
import { optionalBoolean, plainObject, resolveScope } from './validate';

/**
 * What one write invalidates. Every list is optional; ids in `scopes` are escaped, `patterns`
 * are raw Redis globs (escape ids in them with `escapeGlob`).
 */
export interface InvalidationTargets {
  /** Scopes as `'character'` (the whole scope) or `['character', 'char_123']` (one id). */
  scopes?: ReadonlyArray<string | readonly [scope: string, id?: string | number]>;
  /** Tags whose entries are removed. */
  tags?: readonly string[];
  /** Exact keys (without namespace) removed. */
  keys?: readonly string[];
  /** Redis globs (without namespace) whose matching keys are removed. */
  patterns?: readonly string[];
  /**
   * Mark every target stale instead of removing it (see {@link InvalidateOptions.soft}).
   * @default false
   */
  soft?: boolean;
}

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

function isCache(value: unknown): value is Cache {
  return typeof value === 'object' && value !== null && typeof (value as { invalidateScope?: unknown }).invalidateScope === 'function';
}

/** Accepts `{ soft?, cache? }` or, as before, a `Cache`. @internal */
function helperOptions(arg: InvalidationHelperOptions | Cache | undefined): { cache: Cache; options: InvalidateOptions } {
  if (arg === undefined) return { cache: getDefaultCache(), options: {} };
  if (isCache(arg)) return { cache: arg, options: {} };
  plainObject('options', arg);
  const soft = optionalBoolean('soft', arg.soft, false);
  if (arg.cache !== undefined && !isCache(arg.cache)) throw new InvalidOptionError('cache', 'expected a Cache made by createCache');
  return { cache: arg.cache ?? getDefaultCache(), options: { soft } };
}

/** Runs `run` with the resolved options; a bad options object rejects rather than throws. */
function withOptions<T>(arg: InvalidationHelperOptions | Cache | undefined, run: (cache: Cache, options: InvalidateOptions) => Promise<T>): Promise<T> {
  let resolved: { cache: Cache; options: InvalidateOptions };
  try {
    resolved = helperOptions(arg);
  } catch (error) {
    return Promise.reject(error);
  }
  return run(resolved.cache, resolved.options);
}

/**
 * Invalidates the `character` scope: with an id, `character:{id}`, `character:{id}:*` and every
 * entry tagged `character:{id}`, which includes every answer of a route cached with
 * `cacheResponse({ keyPrefix: 'character' })` for that id (all query strings and variants);
 * without one, every `character:*` and `api:character:*` entry and every `character:*` tag. The
 * id is glob-escaped: `'a*'` never touches `character:ab`. With `{ soft: true }` the entries are
 * marked stale instead (served once within their stale-while-revalidate window while one
 * refresh runs). Resolves with the number of entries removed (or marked); rejects when the
 * store fails.
 *
 * @example
 * ```ts
 * await updateCharacter(id, changes);
 * await invalidateCharacterCache(id);                 // GET /characters/:id is a MISS again
 * await invalidateCharacterCache(id, { soft: true }); // ...or STALE once, then the new answer
 * ```
 */
export function invalidateCharacterCache(id?: string | number, options?: InvalidationHelperOptions | Cache): Promise<number> {
  return withOptions(options, (cache, opts) => cache.invalidateScope('character', id, opts));
}

/**
 * Invalidates the `content` scope, exactly like {@link invalidateCharacterCache} does for
 * `character`. Resolves with the number of entries removed; rejects when the store fails.
 *
 * @example
 * ```ts
 * await invalidateContentCache('post_42');
 * await invalidateContentCache('post_42', { soft: true });
 * ```
 */
export function invalidateContentCache(id?: string | number, options?: InvalidationHelperOptions | Cache): Promise<number> {
  return withOptions(options, (cache, opts) => cache.invalidateScope('content', id, opts));
}

/**
 * Removes cached API responses: those of one endpoint (`api:{endpoint}:*`, the endpoint being
 * the middleware's `keyPrefix` or route path, glob-escaped), or every `api:*` entry. Nothing
 * outside `api:` is touched. Resolves with the number removed; rejects when the store fails.
 *
 * @example
 * ```ts
 * await invalidateApiCache('status'); // what cacheResponse({ keyPrefix: 'status' }) stored
 * await invalidateApiCache();         // every cached response
 * await invalidateApiCache('status', { soft: true }); // stale, refreshed on the next request
 * ```
 */
export function invalidateApiCache(endpoint?: string, options?: InvalidationHelperOptions | Cache): Promise<number> {
  return withOptions(options, (cache, opts) => {
    if (endpoint === undefined) return cache.invalidatePattern('api:*', opts);
    if (typeof endpoint !== 'string' || endpoint === '') {
      return Promise.reject(new InvalidOptionError('endpoint', `expected a non-empty string, got ${String(endpoint)}`));
    }
    return cache.invalidatePattern(`api:${escapeGlob(endpoint)}:*`, opts);
  });
}

/**
 * Removes every entry whose key (without namespace) matches the Redis glob `pattern`, with
 * `SCAN` in batches and pipelined `UNLINK` (every master of a cluster). The pattern is used as
 * given: escape ids inside it with {@link escapeGlob}. Resolves with the number removed.
 *
 * @example
 * ```ts
 * await invalidateCacheByPattern(`character:${escapeGlob(id)}:*`);
 * await invalidateCacheByPattern('feed:*', { soft: true });
 * ```
 */
export function invalidateCacheByPattern(pattern: string, options?: InvalidationHelperOptions | Cache): Promise<number> {
  return withOptions(options, (cache, opts) => cache.invalidatePattern(pattern, opts));
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
export type ScopeInvalidator = (id?: string | number, options?: InvalidationHelperOptions | Cache) => Promise<number>;

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
  return (id, options) => withOptions(options, (cache, opts) => cache.invalidateScope(resolved, id, opts));
}

/**
 * Runs every invalidation in `targets` (scopes, tags, keys, patterns) and resolves with the
 * total removed. One failing target does not stop the others (each left undone is stale data);
 * when any failed, it rejects afterwards with the first error.
 * @internal
 */
export async function invalidateTargets(targets: InvalidationTargets, cache: Cache): Promise<number> {
  const options: InvalidateOptions = { soft: optionalBoolean('soft', targets.soft, false) };
  const steps: Array<() => Promise<number>> = [];
  for (const scope of targets.scopes ?? []) {
    steps.push(() => (typeof scope === 'string' ? cache.invalidateScope(scope, undefined, options) : cache.invalidateScope(scope[0], scope[1], options)));
  }
  const tags = targets.tags ?? [];
  if (tags.length > 0) steps.push(() => cache.invalidateTags(tags, options));
  for (const key of targets.keys ?? []) steps.push(async () => ((await cache.delete(key, options)) ? 1 : 0));
  for (const pattern of targets.patterns ?? []) steps.push(() => cache.invalidatePattern(pattern, options));
  let count = 0;
  let failure: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      count += await step();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
  return count;
}
