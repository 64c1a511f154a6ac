// Types only: the polyfill itself is loaded by useReflectMetadata(), the first time a decorator
// is built, so importing the package does not install it for apps that never decorate.
import type {} from 'reflect-metadata';
import type { CacheEvictOptions, CacheableOptions } from './options';

let reflectMetadataLoaded = false;

/**
 * Loads the reflect-metadata polyfill (idempotent; reflect-metadata itself keeps one registry
 * if the app, e.g. NestJS, already loaded it). Called by `Cacheable(...)` / `CacheEvict(...)`
 * when the decorator is built, which happens before TypeScript's legacy `__metadata(...)`
 * helpers of the same method run, so `design:returntype` is still recorded. @internal
 */
export function useReflectMetadata(): void {
  if (reflectMetadataLoaded) return;
  reflectMetadataLoaded = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('reflect-metadata');
}

// TypeScript's TC39 decorators only create `context.metadata` when `Symbol.metadata` exists, and
// Node does not ship it yet. `Symbol.for('Symbol.metadata')` is the symbol esbuild falls back to,
// so code built by tsc and by esbuild/tsx agree on where class metadata lives.
const symbolConstructor = Symbol as unknown as { metadata?: symbol };
symbolConstructor.metadata ??= Symbol.for('Symbol.metadata');
const SYMBOL_METADATA: symbol = symbolConstructor.metadata;

/** reflect-metadata key holding the list of cache entries of a class (legacy decorators). */
const CLASS_METADATA_KEY = 'express-cache-kit:methods';
/** Key of the same list inside a TC39 decorator metadata object. */
const STANDARD_METADATA_KEY = Symbol.for('express-cache-kit:methods');

/**
 * The reflect-metadata key under which legacy decorators store each method's `@Cacheable`
 * options. (TC39 standard decorators keep them in the class's decorator metadata; use
 * {@link getCacheMetadata} to read both.)
 *
 * @example
 * ```ts
 * Reflect.getMetadata(CACHEABLE_METADATA_KEY, CharacterService.prototype, 'getCharacter'); // { ttl: 'character', ... }
 * ```
 */
export const CACHEABLE_METADATA_KEY = 'express-cache-kit:cacheable';
/**
 * Like {@link CACHEABLE_METADATA_KEY}, for `@CacheEvict` options.
 *
 * @example
 * ```ts
 * Reflect.getMetadata(CACHE_EVICT_METADATA_KEY, CharacterService.prototype, 'updateCharacter'); // { scope: 'character', ... }
 * ```
 */
export const CACHE_EVICT_METADATA_KEY = 'express-cache-kit:cache-evict';

/** One decorated method as stored at decoration time. @internal */
export type StoredCacheMetadata =
  | { kind: 'cacheable'; method: string | symbol; static: boolean; options: Readonly<CacheableOptions> }
  | { kind: 'evict'; method: string | symbol; static: boolean; options: Readonly<CacheEvictOptions> };

/**
 * One decorated method as listed by {@link getCacheMetadata}: which class declares it, its
 * name, whether it is static, and the options given to `@Cacheable` or `@CacheEvict`.
 *
 * @example
 * ```ts
 * const cached: CacheMethodMetadata[] = getCacheMetadata(CharacterService).filter((m) => m.kind === 'cacheable');
 * ```
 */
export type CacheMethodMetadata = StoredCacheMetadata & {
  /** The class that declares the decorated method (a base class for inherited methods). */
  target: abstract new (...args: never[]) => unknown;
  /** That class's name. */
  className: string;
};

type AnyClass = abstract new (...args: never[]) => unknown;
type MetadataBag = Record<PropertyKey, unknown>;

/** Records an entry for a legacy decorator, which sees the prototype (or the class, if static). @internal */
export function recordLegacy(target: object, entry: StoredCacheMetadata): void {
  const owner = entry.static ? target : (target as { constructor: object }).constructor;
  const list = (Reflect.getOwnMetadata(CLASS_METADATA_KEY, owner) as StoredCacheMetadata[] | undefined) ?? [];
  // A new array, never a push: a subclass must not append to its base class's list.
  Reflect.defineMetadata(CLASS_METADATA_KEY, [...list, entry], owner);
  Reflect.defineMetadata(
    entry.kind === 'cacheable' ? CACHEABLE_METADATA_KEY : CACHE_EVICT_METADATA_KEY,
    entry.options,
    target,
    entry.method,
  );
}

/** Records an entry for a TC39 decorator in its context's metadata object. @internal */
export function recordStandard(metadata: unknown, entry: StoredCacheMetadata): void {
  if (metadata === null || typeof metadata !== 'object') return;
  const bag = metadata as MetadataBag;
  // The metadata object inherits from the base class's one; only append to our own list.
  const own = Object.prototype.hasOwnProperty.call(bag, STANDARD_METADATA_KEY)
    ? (bag[STANDARD_METADATA_KEY] as StoredCacheMetadata[])
    : [];
  bag[STANDARD_METADATA_KEY] = [...own, entry];
}

/**
 * Finds the class, from `start` up its chain, whose TC39 metadata object is `metadata`: the class
 * that declares a method decorated in standard mode. @internal
 */
export function classOfMetadata(start: unknown, metadata: unknown): AnyClass | undefined {
  if (metadata === null || typeof metadata !== 'object') return undefined;
  for (let c: unknown = start; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, SYMBOL_METADATA) && (c as unknown as MetadataBag)[SYMBOL_METADATA] === metadata) {
      return c as AnyClass;
    }
  }
  return undefined;
}

/**
 * Lists the methods of a class (or of an instance's class) decorated with `@Cacheable` or
 * `@CacheEvict`, including inherited ones, with the options they were given. Works for legacy
 * (`experimentalDecorators`) and TC39 standard decorators alike; tools such as cache warming
 * use it to find what is cached.
 *
 * @example
 * ```ts
 * for (const m of getCacheMetadata(CharacterService)) {
 *   console.log(m.className, String(m.method), m.kind, m.options);
 * }
 * ```
 */
export function getCacheMetadata(target: object): CacheMethodMetadata[] {
  useReflectMetadata();
  const start: unknown = typeof target === 'function' ? target : (target as { constructor?: unknown }).constructor;
  const out: CacheMethodMetadata[] = [];
  for (let c: unknown = start; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const cls = c as AnyClass;
    const legacy = (Reflect.getOwnMetadata(CLASS_METADATA_KEY, cls) as StoredCacheMetadata[] | undefined) ?? [];
    const bag = Object.prototype.hasOwnProperty.call(cls, SYMBOL_METADATA) ? (cls as unknown as MetadataBag)[SYMBOL_METADATA] : undefined;
    const standard =
      bag !== null && typeof bag === 'object' && Object.prototype.hasOwnProperty.call(bag, STANDARD_METADATA_KEY)
        ? ((bag as MetadataBag)[STANDARD_METADATA_KEY] as StoredCacheMetadata[])
        : [];
    for (const entry of [...legacy, ...standard]) out.push({ ...entry, target: cls, className: cls.name });
  }
  return out;
}

/**
 * Gives `wrapper` what other decorators may have attached to `original`: its name, its own
 * properties and its reflect-metadata (NestJS's `SetMetadata`, for one, stores on the function).
 * @internal
 */
export function inheritFunctionMetadata(wrapper: object, original: object): void {
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'prototype') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor) Object.defineProperty(wrapper, key, { ...descriptor, configurable: true });
  }
  for (const key of Reflect.getOwnMetadataKeys(original) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
  }
}
