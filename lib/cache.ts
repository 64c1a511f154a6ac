import { StoreClosedError } from './errors';
import { type CacheEventName, type CacheEvents, type CacheListener, TypedEmitter } from './events';
import { InvalidationLog } from './invalidation-log';
import { escapeGlob, globToRegExp, normaliseNamespace } from './keys';
import { type CacheOptions, type ResolvedCacheOptions, resolveCacheOptions, resolveScope, resolveTags } from './options';
import { type Entry, type ResponseEntry, type StoredHeaders, decodeEntry, encodeEntry } from './serializer';
import { MemoryStore } from './stores/memory';
import type { Store } from './stores/store';
import { type Ttl, type TtlProfiles, resolveTtl } from './ttl';

/** Per-write options of {@link Cache.set}. */
export interface SetOptions {
  /** Seconds or a profile name; defaults to the cache's `defaultTtl`. */
  ttl?: Ttl;
  /** Tags for the entry, so {@link Cache.invalidateTags} (or a scope) can remove it. */
  tags?: readonly string[];
  /**
   * A value of {@link Cache.generation} taken before the value was loaded: the write is skipped
   * (resolving `false`) when an invalidation touching this entry began since, so a slow load
   * never puts back what an invalidation just removed.
   */
  generation?: number;
}

/** Options of {@link Cache.wrap}; `T` is the loader's result. */
export interface WrapOptions<T = unknown> extends Omit<SetOptions, 'tags' | 'generation'> {
  /**
   * Store a `null` result. `undefined` is never stored.
   * @default false
   */
  cacheNull?: boolean;
  /**
   * Decides whether a loaded value is stored: return `false` to hand it to the callers without
   * caching it (for example an empty search result).
   * @default every value except `undefined` (and `null`, see `cacheNull`) is stored
   */
  condition?: (value: T) => boolean;
  /** Tags to attach: a list, or a function of the loaded value; see invalidateTags. */
  tags?: readonly string[] | ((value: T) => readonly string[]);
}

/** A response to store with {@link Cache.setResponse}. */
export interface CachedResponseInput {
  status: number;
  headers: StoredHeaders;
  body: Buffer;
  /** Set when `body` was gzip-compressed for storage only (see `ResponseEntry.bodyEncoding`). */
  bodyEncoding?: 'gzip';
}

/** Counters returned by {@link Cache.stats}. */
export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
  /** `hits / (hits + misses)`, or 0 before any read. */
  hitRate: number;
}

/**
 * The engine every front-end shares: the middleware, the decorators and the helpers all read
 * and write through a `Cache`. Build one with {@link createCache}.
 *
 * Failure rule: reads and writes never reject because of the store; they emit `error` and act
 * as a miss (or a skipped write). Invalidations do reject, because a silently failed
 * invalidation leaves stale data behind and the caller must know.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url }), namespace: 'myapp' });
 * await cache.set('character:char_1', { name: 'Ada' }, { ttl: 'character' });
 * const ada = await cache.get<{ name: string }>('character:char_1');
 * ```
 */
export class Cache {
  /** The store entries live in. */
  readonly store: Store;
  /** The normalised namespace (`''` or ending with `:`). */
  readonly namespace: string;
  /** The TTL profiles in force (built-ins merged with `ttlProfiles`). */
  readonly profiles: TtlProfiles;
  /** The TTL used where none is given, in seconds. */
  readonly defaultTtlSeconds: number;

  private readonly events = new TypedEmitter();
  private readonly inflight = new Map<string, { promise: Promise<unknown>; generation: number }>();
  private readonly invalidations = new InvalidationLog();
  private readonly counters = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 };
  private warnedUnheardError = false;
  private closed = false;

  /** @internal Use {@link createCache}. */
  constructor(options: ResolvedCacheOptions) {
    this.store = options.store ?? new MemoryStore();
    this.namespace = normaliseNamespace(options.namespace);
    this.profiles = options.profiles;
    this.defaultTtlSeconds = options.defaultTtlSeconds;
    // Statistics are one more listener, not counters sprinkled through the code.
    this.events.on('hit', () => void this.counters.hits++);
    this.events.on('miss', () => void this.counters.misses++);
    this.events.on('set', () => void this.counters.sets++);
    this.events.on('delete', ({ count }) => void (this.counters.deletes += count));
    this.events.on('error', () => void this.counters.errors++);
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void {
    return this.events.on(event, listener);
  }

  /** Unsubscribes a listener added with {@link Cache.on}. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    this.events.off(event, listener);
  }

  /**
   * Resolves a TTL (seconds or profile name) against this cache's profiles, in seconds.
   * Throws `InvalidOptionError` naming `option` for an unknown profile or a non-positive number.
   */
  resolveTtl(ttl: Ttl | undefined, option = 'ttl'): number {
    return ttl === undefined ? this.defaultTtlSeconds : resolveTtl(option, ttl, this.profiles);
  }

  /** The value stored under `key`, or `undefined` on a miss. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const entry = await this.read(this.namespace + key, 'value');
    return entry?.kind === 'value' ? (entry.value as T) : undefined;
  }

  /**
   * Stores `value` under `key`. `Date`, `Buffer`, `BigInt`, `Map` and `Set` come back as
   * themselves. Resolves `false` when the store failed (and emits `error`) or when `generation`
   * says an invalidation overtook the value.
   */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    const ttl = this.resolveTtl(options.ttl);
    const tags = this.fullTags(options.tags);
    const now = Date.now();
    return this.write(this.namespace + key, { kind: 'value', value, createdAt: now, expiresAt: now + ttl * 1000 }, ttl, tags, options.generation);
  }

  /**
   * The current invalidation generation of this cache. Take it before loading a value that
   * will be stored with `set`/`setResponse`, and pass it as `generation`.
   *
   * @example
   * ```ts
   * const generation = cache.generation();
   * const row = await db.load(id);
   * await cache.set(`character:${id}`, row, { generation }); // skipped if invalidated meanwhile
   * ```
   */
  generation(): number {
    return this.invalidations.generation;
  }

  /** Removes `key`; resolves `true` when an entry was removed. Rejects when the store fails. */
  async delete(key: string): Promise<boolean> {
    const fullKey = this.namespace + key;
    this.invalidations.record((candidate) => candidate === fullKey);
    const removed = await this.guard('delete', fullKey, () => this.store.delete(fullKey));
    this.events.emit('delete', { key: fullKey, count: removed ? 1 : 0 });
    return removed;
  }

  /**
   * Returns the cached value of `key`, or runs `loader`, stores its result and returns it.
   * Concurrent calls for one key in this process share one loader call; a loader's error is
   * passed to every waiting caller and never stored. If an invalidation touching the entry (by
   * key, pattern, tag or scope) begins while the loader runs, its result is returned but not
   * stored, and later callers start a fresh load.
   *
   * @example
   * ```ts
   * const user = await cache.wrap(`user:${id}`, () => db.users.find(id), { ttl: 'user', condition: (u) => u !== null });
   * ```
   */
  async wrap<T>(key: string, loader: () => T | Promise<T>, options: WrapOptions<T> = {}): Promise<T> {
    const fullKey = this.namespace + key;
    // Tags computed from the value are only known after loading; the static ones count for joining.
    const tagsOption = options.tags;
    const staticTags = typeof tagsOption === 'function' ? undefined : this.fullTags(tagsOption);
    const pending = this.inflight.get(fullKey);
    const generation = this.invalidations.generation;
    // A caller arriving after an invalidation must not be handed the value loaded before it.
    if (pending && !this.invalidations.invalidatedSince(pending.generation, fullKey, staticTags)) return pending.promise as Promise<T>;
    const ttl = this.resolveTtl(options.ttl);
    const promise = (async (): Promise<T> => {
      const entry = await this.read(fullKey, 'value');
      if (entry?.kind === 'value') return entry.value as T;
      const value = await loader();
      if (value !== undefined && (value !== null || options.cacheNull === true) && (options.condition?.(value) ?? true)) {
        const now = Date.now();
        const tags = typeof tagsOption === 'function' ? this.fullTags(tagsOption(value)) : staticTags;
        await this.write(fullKey, { kind: 'value', value, createdAt: now, expiresAt: now + ttl * 1000 }, ttl, tags, generation);
      }
      return value;
    })();
    const flight = { promise, generation };
    this.inflight.set(fullKey, flight);
    try {
      return await promise;
    } finally {
      if (this.inflight.get(fullKey) === flight) this.inflight.delete(fullKey);
    }
  }

  /**
   * Removes every entry whose key (without namespace) matches the Redis glob `pattern`;
   * resolves with the count. Escape ids with `escapeGlob`. Rejects when the store fails.
   */
  async invalidatePattern(pattern: string): Promise<number> {
    const fullPattern = this.namespacePattern() + pattern;
    const matcher = globToRegExp(fullPattern);
    this.invalidations.record((fullKey) => matcher.test(fullKey));
    const count = await this.deletePatternOf(fullPattern);
    this.events.emit('delete', { pattern: fullPattern, count });
    return count;
  }

  /**
   * Removes every entry carrying one of `tags` (given without namespace), wherever it was
   * written from (`set`, `wrap`, `cacheResponse`); resolves with the count. The cost follows the
   * number of tagged entries, never the size of the store. Rejects when the store fails.
   *
   * @example
   * ```ts
   * await cache.set('character:1', ada, { tags: ['team:blue'] });
   * await cache.invalidateTags(['team:blue']); // 1
   * ```
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const fullTags = this.fullTags(resolveTags('tags', tags)) ?? [];
    if (fullTags.length === 0) return 0;
    const wanted = new Set(fullTags);
    this.invalidations.record((_key, entryTags) => entryTags !== undefined && entryTags.some((tag) => wanted.has(tag)));
    const count = await this.deleteTagsOf(fullTags);
    this.events.emit('delete', { tags: fullTags, count });
    return count;
  }

  /**
   * Invalidates a scope. With an id, removes `{scope}:{id}`, every `{scope}:{id}:*` and every
   * entry tagged `{scope}:{id}`; without one, every `{scope}:*`, every `api:{scope}:*` and every
   * entry whose tag matches `{scope}:*`. Glob characters in the scope and id are escaped, so
   * `invalidateScope('character', 'a*')` never touches `character:ab`. Resolves with the count of
   * entries removed; rejects when the store fails.
   *
   * @example
   * ```ts
   * await cache.invalidateScope('character', 'char_123');
   * await cache.invalidateScope('content'); // the whole scope
   * ```
   */
  async invalidateScope(scope: string, id?: string | number): Promise<number> {
    const resolved = resolveScope(scope, id);
    const ns = this.namespacePattern();
    const scopePattern = escapeGlob(resolved.scope);
    let count = 0;
    if (resolved.id === undefined) {
      const keyPatterns = [`${ns}${scopePattern}:*`, `${ns}api:${scopePattern}:*`];
      const tagPattern = `${ns}${scopePattern}:*`;
      const keyMatchers = keyPatterns.map((pattern) => globToRegExp(pattern));
      const tagMatcher = globToRegExp(tagPattern);
      this.invalidations.record(
        (fullKey, tags) => keyMatchers.some((matcher) => matcher.test(fullKey)) || (tags !== undefined && tags.some((tag) => tagMatcher.test(tag))),
      );
      for (const pattern of keyPatterns) count += await this.deletePatternOf(pattern);
      count += await this.guard('deleteTagPattern', tagPattern, () => this.store.deleteTagPattern(tagPattern));
      this.events.emit('delete', { scope: this.namespace + resolved.scope, count });
      return count;
    }
    const name = `${resolved.scope}:${resolved.id}`;
    const fullName = this.namespace + name;
    const subKeys = `${ns}${escapeGlob(name)}:*`;
    const subMatcher = globToRegExp(subKeys);
    this.invalidations.record(
      (fullKey, tags) => fullKey === fullName || subMatcher.test(fullKey) || (tags !== undefined && tags.includes(fullName)),
    );
    if (await this.guard('delete', fullName, () => this.store.delete(fullName))) count++;
    count += await this.deletePatternOf(subKeys);
    count += await this.deleteTagsOf([fullName]);
    this.events.emit('delete', { scope: fullName, count });
    return count;
  }

  /**
   * Removes every entry of this cache: its namespace (entries and tags) when it has one, else
   * everything the store holds (on Redis: every key the client can see, so give shared servers
   * a namespace).
   */
  async clear(): Promise<void> {
    this.invalidations.record(() => true);
    if (this.namespace) {
      const everything = `${this.namespacePattern()}*`;
      const count = (await this.deletePatternOf(everything)) + (await this.guard('deleteTagPattern', everything, () => this.store.deleteTagPattern(everything)));
      this.events.emit('delete', { pattern: everything, count });
      return;
    }
    await this.guard('clear', undefined, () => this.store.clear());
  }

  /** Reads a stored HTTP response (used by `cacheResponse`); `undefined` on a miss. */
  async getResponse(key: string): Promise<ResponseEntry | undefined> {
    const entry = await this.read(this.namespace + key, 'response');
    return entry?.kind === 'response' ? entry : undefined;
  }

  /**
   * Reads whatever fresh entry `key` holds, value or response, in one store read; `undefined` on
   * a miss. `cacheResponse` uses it to find either a response or the record of how a URL's
   * responses vary without reading twice.
   *
   * @example
   * ```ts
   * const entry = await cache.getEntry('api:status:3f2a...');
   * if (entry?.kind === 'response') console.log(entry.status);
   * ```
   */
  async getEntry(key: string): Promise<Entry | undefined> {
    return this.read(this.namespace + key, undefined);
  }

  /**
   * Stores an HTTP response (used by `cacheResponse`); resolves `false` when the store failed or
   * `generation` says an invalidation overtook it.
   */
  async setResponse(key: string, response: CachedResponseInput, options: SetOptions = {}): Promise<boolean> {
    const ttl = this.resolveTtl(options.ttl);
    const tags = this.fullTags(options.tags);
    const now = Date.now();
    return this.write(this.namespace + key, { kind: 'response', ...response, createdAt: now, expiresAt: now + ttl * 1000 }, ttl, tags, options.generation);
  }

  /** Counters since the cache was created. */
  stats(): CacheStats {
    const { hits, misses } = this.counters;
    return { ...this.counters, hitRate: hits + misses === 0 ? 0 : hits / (hits + misses) };
  }

  /** Closes the store. Later reads are misses; later invalidations reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
  }

  // -------------------------------------------------------------------------------------------

  private namespacePattern(): string {
    return escapeGlob(this.namespace);
  }

  /** Tags carry the namespace like keys do, so two apps sharing a Redis never share a tag. */
  private fullTags(tags: readonly string[] | undefined): readonly string[] | undefined {
    if (tags === undefined) return undefined;
    resolveTags('tags', tags);
    return this.namespace === '' ? tags : tags.map((tag) => this.namespace + tag);
  }

  private deletePatternOf(fullPattern: string): Promise<number> {
    return this.guard('deletePattern', fullPattern, () => this.store.deletePattern(fullPattern));
  }

  private deleteTagsOf(fullTags: readonly string[]): Promise<number> {
    return this.guard('deleteTags', undefined, () => this.store.deleteTags(fullTags));
  }

  private async read(fullKey: string, kind: Entry['kind'] | undefined): Promise<Entry | undefined> {
    let bytes: Buffer | undefined;
    try {
      bytes = await this.store.get(fullKey);
    } catch (error) {
      this.reportError(error, 'get', fullKey);
      this.events.emit('miss', { key: fullKey });
      return undefined;
    }
    let entry: Entry | undefined;
    if (bytes !== undefined) {
      try {
        entry = decodeEntry(bytes);
      } catch (error) {
        this.reportError(error, 'decode', fullKey);
        // Drop the unreadable bytes so the next request stores a good entry.
        this.store.delete(fullKey).catch(() => undefined);
      }
    }
    if (entry === undefined || (kind !== undefined && entry.kind !== kind) || entry.expiresAt <= Date.now()) {
      this.events.emit('miss', { key: fullKey });
      return undefined;
    }
    this.events.emit('hit', { key: fullKey });
    return entry;
  }

  private async write(
    fullKey: string,
    entry: Entry,
    ttlSeconds: number,
    fullTags: readonly string[] | undefined,
    generation: number | undefined,
  ): Promise<boolean> {
    // Checked synchronously right before the store call: an invalidation starting later issues
    // its commands after this write, so it removes what we store.
    if (generation !== undefined && this.invalidations.invalidatedSince(generation, fullKey, fullTags)) return false;
    const issuedAt = this.invalidations.generation;
    try {
      await this.store.set(fullKey, encodeEntry(entry), ttlSeconds * 1000, fullTags);
    } catch (error) {
      this.reportError(error, 'set', fullKey);
      return false;
    }
    if (generation !== undefined && this.invalidations.invalidatedSince(issuedAt, fullKey, fullTags)) {
      // An invalidation began while the write was in flight. Where a tagged write is several
      // commands (Redis Cluster) it may have slipped between them, so remove the entry ourselves.
      try {
        await this.store.delete(fullKey);
      } catch (error) {
        this.reportError(error, 'delete', fullKey);
      }
      return false;
    }
    this.events.emit('set', { key: fullKey, ttl: ttlSeconds });
    return true;
  }

  private async guard<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.reportError(error, operation, key);
      throw error;
    }
  }

  private reportError(error: unknown, operation: string, key: string | undefined): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.events.listenerCount('error') <= 1 && !this.warnedUnheardError && !(err instanceof StoreClosedError)) {
      // Only the stats listener is attached: say it once, so a dead store is not invisible.
      this.warnedUnheardError = true;
      process.emitWarning(`cache ${operation} failed (${err.message}); listen to the cache's "error" event to see every failure`, {
        code: 'CACHE_STORE_ERROR',
      });
    }
    this.events.emit('error', { error: err, operation, key });
  }
}

/**
 * Creates a cache. Without a store it uses a new {@link MemoryStore}.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url: 'redis://127.0.0.1:6379' }), namespace: 'myapp', defaultTtl: 'api_response' });
 * ```
 */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(resolveCacheOptions(options));
}

export type { CacheEvents };
