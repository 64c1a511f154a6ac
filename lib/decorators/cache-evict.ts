import type { Cache } from '../engine/cache';
import { getDefaultCache } from '../default-cache';
import { type CacheMethodDecorator, markAsync, methodSite } from './detect';
import { useReflectMetadata } from './metadata';
import { type CacheEvictOptions, type FromCall, validateCacheEvictOptions } from './options';

type Resolvable<T> = FromCall<T, unknown[], unknown>;

function resolve<T>(value: Resolvable<T> | undefined, args: unknown[], result: unknown): T | undefined {
  return typeof value === 'function' ? (value as (args: unknown[], result: unknown) => T)(args, result) : value;
}

function list(option: string, value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items) || items.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`@CacheEvict: the ${option} must give a non-empty string or an array of them, got ${String(value)}`);
  }
  return items;
}

/**
 * Runs every eviction the options ask for. Every value is resolved before the first deletion
 * starts, so a bad value evicts nothing rather than part of the set. An eviction the store cannot
 * take now is journaled by the cache (applied when it answers again), not rejected.
 */
async function evict(cache: Cache, options: CacheEvictOptions, args: unknown[], result: unknown): Promise<void> {
  const keys = list('keys option', resolve(options.keys, args, result));
  const patterns = list('patterns option', resolve(options.patterns, args, result));
  const tags = list('tags option', resolve(options.tags, args, result));
  let id: string | undefined;
  if (options.scope !== undefined && options.id !== undefined) {
    const raw = resolve(options.id, args, result);
    // A missing id must not silently widen into "the whole scope".
    if ((typeof raw !== 'string' || raw === '') && typeof raw !== 'number') {
      throw new TypeError(`@CacheEvict: the id for scope "${options.scope}" resolved to ${JSON.stringify(raw) ?? String(raw)}; leave id out to evict the whole scope`);
    }
    id = String(raw);
  }
  const how = { soft: options.soft ?? false };
  await Promise.all([
    ...keys.map((key) => cache.delete(key, how)),
    ...patterns.map((pattern) => cache.invalidatePattern(pattern, how)),
    options.scope === undefined ? undefined : cache.invalidateScope(options.scope, id, how),
    tags.length === 0 ? undefined : cache.invalidateTags(tags, how),
  ]);
}

/**
 * After an async method resolves, removes cache entries: `keys`, a `scope` (with or without an
 * `id`), `patterns` and `tags`, each a value or a function of `(args, result)`; with `soft`,
 * marks them stale instead. A scope with an id also clears the `cacheResponse` answers of
 * routes scoped to it (`keyPrefix: 'character'` on `/characters/:id`). Nothing is
 * removed when the method rejects. A store outage never fails the call: an eviction the store
 * cannot take now is journaled and applied when it answers again (its reads are misses until
 * then), and the cache emits `error`.
 *
 * Works as a TC39 standard decorator and as a legacy `experimentalDecorators` one; misuse throws
 * `TypeError` when the class is defined, bad options `InvalidOptionError`.
 *
 * @example
 * ```ts
 * class CharacterService {
 *   @CacheEvict({ scope: 'character', id: ([id]: [string]) => id })
 *   async updateCharacter(id: string, patch: Partial<Character>): Promise<Character> { ... }
 *
 *   @CacheEvict({ scope: 'character', id: ([id]: [string]) => id, soft: true })
 *   async renameCharacter(id: string, name: string): Promise<Character> { ... }
 *
 *   @CacheEvict({ keys: 'characters:all', patterns: ([owner]: [string]) => `content:${escapeGlob(owner)}:*` })
 *   async deleteCharacter(owner: string, id: string): Promise<void> { ... }
 * }
 * ```
 */
export function CacheEvict<Args extends unknown[] = unknown[], R = unknown>(options: CacheEvictOptions<Args, R>): CacheMethodDecorator {
  useReflectMetadata();
  const opts = options as unknown as CacheEvictOptions;
  validateCacheEvictOptions(opts);
  const recorded = Object.freeze({ ...opts });

  return ((...decoratorArgs: unknown[]) => {
    const site = methodSite('CacheEvict', decoratorArgs);
    const original = site.original;
    const wrapper = markAsync(async function cacheEvictWrapper(this: unknown, ...args: unknown[]): Promise<unknown> {
      const result = await original.apply(this, args);
      await evict(opts.cache ?? getDefaultCache(), opts, args, result);
      return result;
    });
    site.record({ kind: 'evict', method: site.method, static: site.isStatic, options: recorded });
    return site.install(wrapper);
  }) as CacheMethodDecorator;
}
