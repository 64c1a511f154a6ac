import type { WrapOptions } from '../engine/cache';
import { getDefaultCache } from '../default-cache';
import { useReflectMetadata } from './metadata';
import { type AsyncMethod, type CacheMethodDecorator, type MethodSite, markAsync, methodSite } from './detect';
import { type KeyBuilder, functionKey, hashArgs, scopeKey, templateKey } from './keys';
import { type CacheableOptions, validateCacheableOptions } from './options';

function defaultKey(site: MethodSite): KeyBuilder {
  const method = String(site.method);
  return (thisArg, args) => `${site.className(thisArg)}.${method}:${hashArgs(args)}`;
}

/**
 * Caches the result of an async method: the first call (per key) runs the method and stores what
 * it resolves to, later calls within the TTL get the stored value. It is `Cache.wrap` around
 * the method, so concurrent calls for one key share one run, a rejection is never cached, and
 * values keep their types. `this` is preserved.
 *
 * Works as a TC39 standard decorator and as a legacy `experimentalDecorators` one. Bad options
 * throw `InvalidOptionError`, and decorating anything but an async method throws `TypeError`,
 * when the class is defined. The options are recorded for {@link getCacheMetadata}.
 *
 * @example
 * ```ts
 * class CharacterService {
 *   @Cacheable({ key: (id: string) => `character:${id}`, ttl: 'character' })
 *   async getCharacter(id: string): Promise<Character> { return db.characters.find(id); }
 *
 *   @Cacheable({ scope: 'content', ttl: 600, condition: (page: Page) => page.items.length > 0 })
 *   async listContent(ownerId: string, page: number): Promise<Page> { ... }
 * }
 * ```
 */
export function Cacheable<Args extends unknown[] = unknown[], R = unknown>(options: CacheableOptions<Args, R> = {}): CacheMethodDecorator {
  useReflectMetadata();
  const opts = options as unknown as CacheableOptions;
  validateCacheableOptions(opts);
  const recorded = Object.freeze({ ...opts });
  const explicitKey: KeyBuilder | undefined =
    typeof opts.key === 'function'
      ? functionKey(opts.key as (...args: never[]) => unknown)
      : typeof opts.key === 'string'
        ? templateKey(opts.key)
        : opts.scope !== undefined
          ? scopeKey(opts.scope)
          : undefined;
  const { tags } = opts;
  const fixed: WrapOptions = {
    ttl: opts.ttl,
    cacheNull: opts.cacheNull,
    condition: opts.condition,
    refreshAhead: opts.refreshAhead,
    tags: typeof tags === 'function' ? undefined : tags,
  };

  return ((...decoratorArgs: unknown[]) => {
    const site = methodSite('Cacheable', decoratorArgs);
    const keyOf = explicitKey ?? defaultKey(site);
    const original = site.original;
    const wrapper = markAsync(function cacheableWrapper(this: unknown, ...args: unknown[]): Promise<unknown> {
      let key: string;
      try {
        key = keyOf(this, args);
      } catch (error) {
        return Promise.reject(error);
      }
      const wrapOptions = typeof tags === 'function' ? { ...fixed, tags: (value: unknown) => tags(args, value) } : fixed;
      return (opts.cache ?? getDefaultCache()).wrap(key, () => original.apply(this, args), wrapOptions);
    } as AsyncMethod);
    site.record({ kind: 'cacheable', method: site.method, static: site.isStatic, options: recorded });
    return site.install(wrapper);
  }) as CacheMethodDecorator;
}
