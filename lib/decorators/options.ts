import { Cache } from '../engine/cache';
import { refreshAheadFraction } from '../engine/options';
import { InvalidOptionError } from '../errors';
import { type Ttl, TTL_PROFILES, isSelfContainedTtl, resolveTtl } from '../ttl';
import { declareScope } from '../engine/routes';
import { optionNames, plainObject, rejectUnknownOptions } from '../validate';

// Decorator options live next to the decorators (not in lib/options.ts) because they are
// generic in the decorated method's arguments and result; the rules are the same: every option
// is checked once, when the decorator is applied, and a bad one throws InvalidOptionError.

/**
 * Options of {@link Cacheable}. `Args` are the method's arguments, `R` what its promise resolves to.
 *
 * @example
 * ```ts
 * const options: CacheableOptions<[id: string], Character | null> = { key: (id) => `character:${id}`, ttl: 'character', condition: (c) => c !== null };
 * ```
 */
export interface CacheableOptions<Args extends unknown[] = unknown[], R = unknown> {
  /**
   * The cache key: a function of the arguments (called with the instance as `this`), or a
   * template where `{0}`, `{1}`... stand for the arguments and `{0.id}` for a property of one
   * (`'character:{0}'`). A placeholder whose value is not a primitive is replaced by its hash.
   * Give either `key` or `scope`.
   * @default `{scope}:...` when `scope` is given, else `{ClassName}.{method}:{hash of the arguments}`
   */
  key?: string | ((...args: Args) => string);
  /**
   * Names the entity the method reads, so `invalidateScope(scope, id)` finds its entries. The key is
   * `{scope}:{first argument}` when the first argument is a string, number, bigint or boolean
   * (`{scope}:{first}:{hash of the others}` when more arguments are given), else
   * `{scope}:{hash of the arguments}`.
   */
  scope?: string;
  /**
   * How long a result stays fresh: seconds, a duration string (`'5m'`) or a profile name.
   * Numbers, durations and built-in profiles are checked when the class is defined; a custom
   * profile name without `cache` is looked up at call time, in the cache then in use, so
   * `configureCache({ ttlProfiles })` may run after the class is defined.
   * @default the cache's `defaultTtl`
   */
  ttl?: Ttl;
  /** Tags to attach: a list, or a function of the arguments and the result; see invalidateTags. */
  tags?: readonly string[] | ((args: Args, result: R) => readonly string[]);
  /**
   * Return `false` to hand a result back without caching it.
   * @default every result except `undefined` (and `null`, see `cacheNull`) is cached
   */
  condition?: (result: R) => boolean;
  /**
   * Cache a `null` result. `undefined` is never cached.
   * @default false
   */
  cacheNull?: boolean;
  /**
   * A call that finds its result with less than this fraction of its TTL left returns it and
   * reruns the method once in the background, so a hot result never expires in front of a
   * caller; results nobody asks for are left to expire. Between 0 and 1, e.g. `0.1`.
   * @default 0 (off)
   */
  refreshAhead?: number;
  /**
   * The cache to use.
   * @default the default cache at call time ({@link getDefaultCache})
   */
  cache?: Cache;
}

/**
 * A value, or a function computing it from the method's arguments and result.
 *
 * @example
 * ```ts
 * const keys: FromCall<string[], [id: string], Character> = ([id], saved) => [`character:${id}`, `owner:${saved.ownerId}`];
 * ```
 */
export type FromCall<T, Args extends unknown[], R> = T | ((args: Args, result: R) => T);

/**
 * Options of {@link CacheEvict}: at least one of keys, scope, patterns or tags.
 *
 * @example
 * ```ts
 * const options: CacheEvictOptions<[id: string, name: string]> = { scope: 'character', id: ([id]) => id };
 * ```
 */
export interface CacheEvictOptions<Args extends unknown[] = unknown[], R = unknown> {
  /** Keys to delete (without the cache's namespace). */
  keys?: FromCall<string | readonly string[], Args, R>;
  /**
   * A scope to invalidate: with `id`, the entries of that one entity; without, the whole scope.
   */
  scope?: string;
  /**
   * The entity id within `scope`. When given as a function it must return an id: an
   * `undefined` result is an error rather than a silent wipe of the whole scope.
   */
  id?: FromCall<string | number, Args, R>;
  /** Redis globs to invalidate (without the namespace). Escape ids with `escapeGlob`. */
  patterns?: FromCall<string | readonly string[], Args, R>;
  /** Tags to invalidate; see invalidateTags. */
  tags?: FromCall<string | readonly string[], Args, R>;
  /**
   * Mark the entries stale instead of removing them (see `InvalidateOptions.soft`): callers
   * with a stale-while-revalidate window get the old value once while one refresh runs.
   * @default false
   */
  soft?: boolean;
  /**
   * The cache to use.
   * @default the default cache at call time ({@link getDefaultCache})
   */
  cache?: Cache;
}

function nonEmptyString(option: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidOptionError(option, `expected a non-empty string, got ${String(value)}`);
  }
}

function functionOr(option: string, value: unknown, check: (v: unknown) => boolean, expected: string): void {
  if (value !== undefined && typeof value !== 'function' && !check(value)) {
    throw new InvalidOptionError(option, `expected ${expected} or a function returning one`);
  }
}

const isStringList = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '');
const isStringOrList = (v: unknown): boolean => (typeof v === 'string' && v !== '') || isStringList(v);

function checkCache(value: unknown): void {
  if (value !== undefined && !(value instanceof Cache)) {
    throw new InvalidOptionError('cache', 'expected a Cache (from createCache or getDefaultCache)');
  }
}

/**
 * Checks a TTL now when that is possible: against the given cache's profiles, or when it is a
 * number, a duration string or a built-in profile. A custom profile name without a `cache` is
 * checked at call time, because the default cache is usually configured after the classes are
 * defined.
 */
function checkTtl(ttl: unknown, cache: Cache | undefined): void {
  if (ttl === undefined) return;
  if (cache) cache.resolveTtl(ttl as Ttl, 'ttl');
  else if (isSelfContainedTtl(ttl)) resolveTtl('ttl', ttl as Ttl, TTL_PROFILES);
}

// Every option name, once per decorator: the compiler keeps each list equal to its interface.
const CACHEABLE_OPTION_NAMES = optionNames<CacheableOptions>({
  key: true,
  scope: true,
  ttl: true,
  tags: true,
  condition: true,
  cacheNull: true,
  refreshAhead: true,
  cache: true,
});
const CACHE_EVICT_OPTION_NAMES = optionNames<CacheEvictOptions>({ keys: true, scope: true, id: true, patterns: true, tags: true, soft: true, cache: true });

/** @internal */
export function validateCacheableOptions(options: CacheableOptions): void {
  plainObject('Cacheable options', options);
  rejectUnknownOptions('@Cacheable', options, CACHEABLE_OPTION_NAMES);
  checkCache(options.cache);
  if (options.key !== undefined && options.scope !== undefined) {
    throw new InvalidOptionError('key', 'give either "key" or "scope", not both');
  }
  if (options.key !== undefined && typeof options.key !== 'function') nonEmptyString('key', options.key);
  if (options.scope !== undefined) nonEmptyString('scope', options.scope);
  // A scope invalidation before the first call reaches nothing, yet is not a mistake.
  declareScope(options.scope ?? (typeof options.key === 'string' ? options.key.split(':', 1)[0] : undefined));
  checkTtl(options.ttl, options.cache);
  functionOr('tags', options.tags, isStringList, 'an array of non-empty strings');
  if (options.condition !== undefined && typeof options.condition !== 'function') {
    throw new InvalidOptionError('condition', 'expected a function of the result returning a boolean');
  }
  if (options.cacheNull !== undefined && typeof options.cacheNull !== 'boolean') {
    throw new InvalidOptionError('cacheNull', 'expected a boolean');
  }
  refreshAheadFraction(options.refreshAhead);
}

/** @internal */
export function validateCacheEvictOptions(options: CacheEvictOptions): void {
  plainObject('CacheEvict options', options);
  rejectUnknownOptions('@CacheEvict', options, CACHE_EVICT_OPTION_NAMES);
  checkCache(options.cache);
  const { keys, scope, id, patterns, tags } = options;
  if (keys === undefined && scope === undefined && patterns === undefined && tags === undefined) {
    throw new InvalidOptionError('keys', 'nothing to evict: give "keys", "scope", "patterns" or "tags"');
  }
  functionOr('keys', keys, isStringOrList, 'a key or an array of keys');
  functionOr('patterns', patterns, isStringOrList, 'a pattern or an array of patterns');
  functionOr('tags', tags, isStringOrList, 'a tag or an array of tags');
  if (scope !== undefined) nonEmptyString('scope', scope);
  if (id !== undefined && scope === undefined) throw new InvalidOptionError('id', '"id" needs a "scope"');
  functionOr('id', id, (v) => (typeof v === 'string' && v !== '') || typeof v === 'number', 'a string or number id');
  if (options.soft !== undefined && typeof options.soft !== 'boolean') throw new InvalidOptionError('soft', 'expected a boolean');
}
