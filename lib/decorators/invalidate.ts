import type { Cache } from '../cache';
import { escapeGlob } from '../keys';

// The one place where @CacheEvict reaches scope and tag invalidation. Cache.invalidateScope and
// Cache.invalidateTags are used when the engine has them; until then scopes fall back to plain
// key and pattern deletes, and tags cannot be evicted. Swap this file for direct calls once
// the engine has both methods.

interface ScopeAndTagMethods {
  invalidateScope?: (scope: string, id?: string) => Promise<number>;
  invalidateTags?: (tags: readonly string[]) => Promise<number>;
}

/** Whether `cache` can invalidate by tag. @internal */
export function canInvalidateTags(cache: Cache): boolean {
  return typeof (cache as ScopeAndTagMethods).invalidateTags === 'function';
}

/**
 * Removes the entries of `scope` (all of them, or those of `id`: the key `{scope}:{id}` and the
 * keys under `{scope}:{id}:`); resolves with how many were removed. @internal
 */
export async function invalidateScope(cache: Cache, scope: string, id?: string): Promise<number> {
  const engine = (cache as ScopeAndTagMethods).invalidateScope;
  if (typeof engine === 'function') return engine.call(cache, scope, id);
  if (id === undefined) return cache.invalidatePattern(`${escapeGlob(scope)}:*`);
  const [one, under] = await Promise.all([cache.delete(`${scope}:${id}`), cache.invalidatePattern(`${escapeGlob(scope)}:${escapeGlob(id)}:*`)]);
  return (one ? 1 : 0) + under;
}

/** Removes every entry carrying one of `tags`; resolves with how many were removed. @internal */
export async function invalidateTags(cache: Cache, tags: readonly string[]): Promise<number> {
  const engine = (cache as ScopeAndTagMethods).invalidateTags;
  if (typeof engine !== 'function') {
    throw new TypeError('tag invalidation needs a Cache with invalidateTags(), which this version of express-cache-kit does not have yet; evict by keys, scope or patterns');
  }
  return engine.call(cache, tags);
}
