import type { Cache } from './engine/cache';
import { getDefaultCache } from './default-cache';
import { InvalidOptionError } from './errors';
import { escapeGlob } from './keys';
import { resolveScope } from './validate';

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
}

/**
 * Invalidates the `character` scope: with an id, `character:{id}`, `character:{id}:*` and every
 * entry tagged `character:{id}`; without one, every `character:*` and `api:character:*` entry
 * and every `character:*` tag. The id is glob-escaped: `'a*'` never touches `character:ab`.
 * Resolves with the number of entries removed; rejects when the store fails.
 *
 * @example
 * ```ts
 * await updateCharacter(id, changes);
 * await invalidateCharacterCache(id);
 * ```
 */
export function invalidateCharacterCache(id?: string | number, cache: Cache = getDefaultCache()): Promise<number> {
  return cache.invalidateScope('character', id);
}

/**
 * Invalidates the `content` scope, exactly like {@link invalidateCharacterCache} does for
 * `character`. Resolves with the number of entries removed; rejects when the store fails.
 *
 * @example
 * ```ts
 * await invalidateContentCache('post_42');
 * ```
 */
export function invalidateContentCache(id?: string | number, cache: Cache = getDefaultCache()): Promise<number> {
  return cache.invalidateScope('content', id);
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
 * ```
 */
export function invalidateApiCache(endpoint?: string, cache: Cache = getDefaultCache()): Promise<number> {
  if (endpoint === undefined) return cache.invalidatePattern('api:*');
  if (typeof endpoint !== 'string' || endpoint === '') {
    return Promise.reject(new InvalidOptionError('endpoint', `expected a non-empty string, got ${String(endpoint)}`));
  }
  return cache.invalidatePattern(`api:${escapeGlob(endpoint)}:*`);
}

/**
 * Removes every entry whose key (without namespace) matches the Redis glob `pattern`, with
 * `SCAN` in batches and pipelined `UNLINK` (every master of a cluster). The pattern is used as
 * given: escape ids inside it with {@link escapeGlob}. Resolves with the number removed.
 *
 * @example
 * ```ts
 * await invalidateCacheByPattern(`character:${escapeGlob(id)}:*`);
 * ```
 */
export function invalidateCacheByPattern(pattern: string, cache: Cache = getDefaultCache()): Promise<number> {
  return cache.invalidatePattern(pattern);
}

/**
 * An invalidation helper for one scope, as made by {@link createScopeInvalidator}: pass an id
 * for one item or nothing for the whole scope, and optionally the cache to use.
 *
 * @example
 * ```ts
 * const invalidateUserCache: ScopeInvalidator = createScopeInvalidator('user');
 * ```
 */
export type ScopeInvalidator = (id?: string | number, cache?: Cache) => Promise<number>;

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
  return (id, cache = getDefaultCache()) => cache.invalidateScope(resolved, id);
}

/**
 * Runs every invalidation in `targets` (scopes, tags, keys, patterns) and resolves with the
 * total removed. One failing target does not stop the others (each left undone is stale data);
 * when any failed, it rejects afterwards with the first error.
 * @internal
 */
export async function invalidateTargets(targets: InvalidationTargets, cache: Cache): Promise<number> {
  const steps: Array<() => Promise<number>> = [];
  for (const scope of targets.scopes ?? []) {
    steps.push(() => (typeof scope === 'string' ? cache.invalidateScope(scope) : cache.invalidateScope(scope[0], scope[1])));
  }
  const tags = targets.tags ?? [];
  if (tags.length > 0) steps.push(() => cache.invalidateTags(tags));
  for (const key of targets.keys ?? []) steps.push(async () => ((await cache.delete(key)) ? 1 : 0));
  for (const pattern of targets.patterns ?? []) steps.push(() => cache.invalidatePattern(pattern));
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
