import { InvalidOptionError, RateLimitedError, StoreClosedError, UnsupportedOperationError } from '../errors';
import { escapeGlob, globToRegExp, normaliseNamespace, scopeKeyPatterns } from '../keys';
import { type StatsSnapshot, StatsCollector } from '../metrics/stats';
import { lookupsTraced, traceLookup } from '../metrics/tracing';
import { type Entry, decodeEntry, encodeEntry } from '../serializer';
import { type MarkedValue, type PatternCapable, READ_LATER, type Store, type TagCapable, canDeletePattern, canDeleteTags, canGuardWrites, canReadNow, canSoftInvalidate } from '../stores/store';
import { type Ttl, type TtlProfiles, resolveTtl } from '../ttl';
import { resolveScope, resolveTags } from '../validate';
import type { TypedEmitter } from './events';
import { type CacheEventName, type CacheEvents, type CacheListener } from './events';
import { type EntryWrite, FillProtocol, type FillResult, type FillSpec } from './fill';
import { InvalidationLog } from './invalidation-log';
import { type FreshnessOptions, type ResolvedCacheOptions, resolveFreshness } from './options';

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
  /**
   * Keeps the entry in the store this many milliseconds past its TTL, so stale-while-revalidate
   * and stale-if-error can still serve it (reads ask for stale entries explicitly).
   * @default 0
   */
  graceMs?: number;
}

/**
 * Options of every invalidation (`delete`, `invalidatePattern`, `invalidateTags`,
 * `invalidateScope`, and the helpers built on them).
 *
 * @example
 * ```ts
 * await cache.invalidateTags(['character:1'], { soft: true });
 * ```
 */
export interface InvalidateOptions {
  /**
   * Mark the entries stale instead of removing them: each reads as if it had expired at the
   * invalidation, so a caller with a stale-while-revalidate window (`staleWhileRevalidate` of
   * `wrap` or of the route) is answered at once from it while one refresh runs, and gets the
   * new value after that. Never served past the caller's window (counted from the
   * invalidation) nor past its grace; a caller without a window gets a miss, as after a hard
   * invalidation. Stores without soft marks (see `SoftCapable`) invalidate hard.
   * @default false
   */
  soft?: boolean;
}

/**
 * How long invalidation stamps stay in the store: a load that takes longer than this is guarded
 * against other processes' invalidations only by its own process's log.
 */
export const INVALIDATION_STAMP_TTL_MS = 10 * 60_000;

/**
 * How many `:`-separated levels of a key the cross-process guard tells apart. A pattern
 * invalidation stamps the literal prefix of its glob cut at a `:` (`character:1:*` stamps
 * `character:1:`); writes check every prefix of their key up to this depth, so deeper patterns
 * are stamped at this depth (refusing a few more writes, never fewer).
 */
const STAMP_PREFIX_DEPTH = 6;

/** Options of {@link Cache.wrap}; `T` is the loader's result. */
export interface WrapOptions<T = unknown> extends Omit<SetOptions, 'tags' | 'generation' | 'graceMs'>, FreshnessOptions {
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
  /**
   * When a fresh entry has less than this fraction of its TTL left, it is returned and refreshed
   * in the background, so hot keys never expire. Between 0 and 1.
   * @default 0 (off)
   */
  refreshAhead?: number;
}

/** An entry found by {@link Cache.lookup}, with whether it is past its TTL. */
export interface Lookup<E extends Entry = Entry> {
  entry: E;
  /** `true` when the entry is past its TTL but within the grace window asked for. */
  stale: boolean;
}

/** A task for {@link Cache.warm}: a query to load and store. (Routes: see `warmRoutes`.) */
export interface WarmTask {
  key: string;
  loader: () => unknown;
  ttl?: Ttl;
  tags?: readonly string[];
}

/**
 * What {@link Cache.stats} returns: the totals, outcome reasons and per-endpoint counts of the
 * cache's {@link StatsCollector}, plus `writeErrors`.
 */
export interface CacheStats extends StatsSnapshot {
  /**
   * Failed writes of entries (`set` errors): a store that reads but refuses writes (Redis out
   * of memory) shows here, and counts toward the breaker.
   */
  writeErrors: number;
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

  private readonly events: TypedEmitter;
  private readonly fills: FillProtocol;
  private readonly decoded = new WeakMap<Buffer, Entry>();
  private readonly invalidations = new InvalidationLog();
  /**
   * The statistics listener behind {@link Cache.stats} (the dashboard and Prometheus read it
   * too, so counting happens once).
   * @internal
   */
  readonly statsCollector: StatsCollector;
  private writeErrors = 0;
  /** The `error` listeners the cache attaches itself: more than these means someone listens. */
  private internalErrorListeners = 0;
  private warnedUnheardError = false;
  private closed = false;

  /**
   * @internal Use {@link createCache}, the composition root: it builds the store stack (breaker,
   * fallback) and hands the engine the composed store and the emitter the stack reports to.
   */
  constructor(store: Store, events: TypedEmitter, options: Pick<ResolvedCacheOptions, 'namespace' | 'profiles' | 'defaultTtlSeconds' | 'lock'>) {
    this.store = store;
    this.events = events;
    const host = {
      store,
      namespace: normaliseNamespace(options.namespace),
      invalidations: this.invalidations,
      write: (write: EntryWrite, generation: number) => this.write(write.key, write.entry, write.ttlSeconds, write.tags, generation, write.graceMs),
      reportError: (error: unknown, operation: string, key: string | undefined) => this.reportError(error, operation, key),
    };
    this.fills = new FillProtocol(host, options.lock, (key, endpoint, durationMs, stored) => this.events.emit('fill', { key, endpoint, durationMs, stored }));
    this.namespace = normaliseNamespace(options.namespace);
    this.profiles = options.profiles;
    this.defaultTtlSeconds = options.defaultTtlSeconds;
    // Statistics are one more listener, not counters sprinkled through the code.
    this.statsCollector = new StatsCollector({ namespace: this.namespace });
    this.statsCollector.attach(this.events);
    this.events.on('error', ({ operation, key }) => {
      if (operation === 'set') this.writeErrors++;
      else if (operation === 'acquireLock' && key !== undefined) this.fills.lockFailed(key);
    });
    this.internalErrorListeners = this.events.listenerCount('error');
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
    const fullKey = this.namespace + key;
    const found = await this.read(fullKey, 0);
    if (found?.entry.kind !== 'value') {
      this.events.emit('miss', { key: fullKey });
      return undefined;
    }
    this.events.emit('hit', { key: fullKey });
    return found.entry.value as T;
  }

  /**
   * Stores `value` under `key`. `Date`, `Buffer`, `BigInt`, `Map` and `Set` come back as
   * themselves. Resolves `false` when the store failed (and emits `error`) or when `generation`
   * says an invalidation overtook the value.
   */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    return this.setEntry(key, { kind: 'value', value }, options);
  }

  /**
   * Stores an entry of any kind the serializer knows (front-ends storing their own shapes,
   * e.g. HTTP responses); see {@link Cache.set}.
   * @internal
   */
  async setEntry(key: string, entry: DistributiveOmit<Entry, 'createdAt' | 'expiresAt'>, options: SetOptions = {}): Promise<boolean> {
    const ttl = this.resolveTtl(options.ttl);
    const tags = this.fullTags(options.tags);
    const now = Date.now();
    return (await this.write(this.namespace + key, { ...entry, createdAt: now, expiresAt: now + ttl * 1000 } as Entry, ttl, tags, options.generation, graceOf(options))) === 'stored';
  }

  /**
   * The current invalidation generation of this cache: a time in epoch milliseconds that only
   * grows, never before this cache's latest invalidation. Take it before loading a value that
   * will be stored with `set`/`setResponse`, and pass it as `generation`: the write is skipped
   * when an invalidation touching the entry began since, in this process (its log) or in any
   * other sharing the store (the store's stamps, see `GuardCapable`).
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

  /**
   * Removes `key`, and when it is a response key of `cacheResponse`, every Vary variant stored
   * under it (`{key}:v:*`, found through their index, never by scanning). Resolves `true` when
   * an entry was removed (or marked, with `soft`). Rejects when the store fails.
   *
   * @example
   * ```ts
   * await cache.delete('character:1');
   * await cache.delete(apiKey('character', '/characters/1', ''), { soft: true });
   * ```
   */
  async delete(key: string, options: InvalidateOptions = {}): Promise<boolean> {
    const soft = softOf(options);
    const fullKey = this.namespace + key;
    const variants = `${fullKey}:v:`;
    const at = this.invalidations.record((candidate) => candidate === fullKey || candidate.startsWith(variants));
    await this.stamp([`k:${fullKey}`, this.prefixStamp(`${key}:`)], at);
    const store = this.store;
    let count = 0;
    if (soft && canSoftInvalidate(store)) {
      if (await this.guard('softDelete', fullKey, () => store.softDelete(fullKey, at))) count++;
      if (canDeleteTags(store)) count += await this.guard('softDeleteTags', fullKey, () => store.softDeleteTags([this.variantTag(fullKey)], at));
    } else {
      if (await this.guard('delete', fullKey, () => store.delete(fullKey))) count++;
      if (canDeleteTags(store)) count += await this.guard('deleteTags', fullKey, () => store.deleteTags([this.variantTag(fullKey)]));
    }
    this.events.emit('delete', { key: fullKey, count });
    return count > 0;
  }

  /**
   * Returns the cached value of `key`, or runs `loader`, stores its result and returns it.
   *
   * - Concurrent calls for one key in this process share one loader call; across processes a
   *   short lock in the store lets one instance fill the key while the others wait for it.
   * - A loader's error reaches every waiting caller and is never stored; with `staleIfError`,
   *   a stale value is returned instead.
   * - With `staleWhileRevalidate`, a stale value is returned at once and refreshed in the
   *   background; with `refreshAhead`, so is a fresh value close to expiry.
   * - With `limiter`, loader calls are rate limited (hits never are); a limited call returns a
   *   stale value when one exists, else rejects with `RateLimitedError`.
   * - If an invalidation touching the entry (by key, pattern, tag or scope) begins while the
   *   loader runs, its result is returned but not stored, and later callers start a fresh load.
   *
   * @example
   * ```ts
   * const user = await cache.wrap(`user:${id}`, () => db.users.find(id), { ttl: 'user', condition: (u) => u !== null });
   * const top = await cache.wrap('spotify:top', fetchTop, { ttl: 43_200, staleIfError: 86_400, limiter: { name: 'spotify', minIntervalMs: 2_000 } });
   * ```
   */
  async wrap<T>(key: string, loader: () => T | Promise<T>, options: WrapOptions<T> = {}): Promise<T> {
    const fullKey = this.namespace + key;
    // Tags computed from the value are only known after loading; the static ones count for joining.
    const staticTags = typeof options.tags === 'function' ? undefined : this.fullTags(options.tags);
    const ttlSeconds = this.resolveTtl(options.ttl);
    const freshness = resolveFreshness(options);
    const refreshAhead = options.refreshAhead ?? 0;
    if (typeof refreshAhead !== 'number' || !(refreshAhead >= 0 && refreshAhead < 1)) {
      throw new InvalidOptionError('refreshAhead', `expected a fraction of the TTL in [0, 1), got ${String(refreshAhead)}`);
    }
    const found = await this.read(fullKey, freshness.graceMs);
    const entry = found?.entry.kind === 'value' ? found.entry : undefined;
    const stale = entry && found?.stale ? { value: entry.value as T, expiresAt: entry.expiresAt } : undefined;
    const spec: FillSpec<T> = {
      key: fullKey,
      tags: staticTags,
      stale,
      freshness,
      find: async () => {
        const seen = await this.read(fullKey, 0);
        return seen?.entry.kind === 'value' && !seen.stale ? (seen.entry.value as T) : undefined;
      },
      load: async () => {
        const value = await loader();
        const store = value !== undefined && (value !== null || options.cacheNull === true) && (options.condition?.(value) ?? true);
        if (!store) return { kind: 'value', value, share: true };
        const tags = typeof options.tags === 'function' ? this.fullTags(options.tags(value)) : staticTags;
        const now = Date.now();
        const written: Entry = { kind: 'value', value, createdAt: now, expiresAt: now + ttlSeconds * 1000 };
        return { kind: 'value', value, share: true, writes: [{ key: fullKey, entry: written, ttlSeconds, tags, graceMs: freshness.graceMs }] };
      },
    };
    if (entry && !found?.stale) {
      this.events.emit('hit', { key: fullKey });
      if (refreshAhead > 0 && entry.expiresAt - Date.now() < refreshAhead * ttlSeconds * 1000) this.refreshInBackground(spec);
      return entry.value as T;
    }
    const revalidating = this.fills.revalidating(stale, freshness);
    if (revalidating) {
      this.events.emit('stale', { key: fullKey, reason: 'revalidate' });
      this.refreshInBackground(spec);
      return revalidating.value;
    }
    return this.settleWrap(fullKey, await this.fills.run(spec));
  }

  /**
   * Prefills the cache: loads and stores each task (replacing what is there). Runs
   * `concurrency` tasks at once and never rejects: it resolves with how many tasks succeeded and
   * the errors of the others. Routes cached by `cacheResponse` are warmed with `warmRoutes`.
   *
   * @example
   * ```ts
   * await cache.warm([{ key: 'platform:status', loader: loadStatus, ttl: 'platform_status' }]);
   * ```
   */
  async warm(tasks: readonly WarmTask[], options: { concurrency?: number } = {}): Promise<WarmResult<WarmTask>> {
    return runTasks(tasks, options.concurrency, async (task) => {
      const value = await task.loader();
      if (!(await this.set(task.key, value, { ttl: task.ttl, tags: task.tags }))) throw new Error(`could not store ${task.key}`);
    });
  }

  // -------------------------------------------------------------------------------------------
  // The fill protocol's surface for front-ends that store other entry shapes (cacheResponse).

  /**
   * Reads `key` (without namespace): a fresh entry, or one past its TTL as `stale` while within
   * `graceMs` after it; `undefined` otherwise. Emits no outcome event: the front-end reports
   * the one outcome of its answer with {@link Cache.report}.
   * @internal
   */
  peek(key: string, graceMs = 0): Promise<Lookup | undefined> {
    return this.read(this.namespace + key, graceMs);
  }

  /**
   * {@link Cache.peek} in the same tick, when the store can answer without waiting (an
   * in-process store, an L1 copy): a hit then costs no promise. {@link READ_LATER} when it
   * cannot (or a tracer listens to lookups); the caller then awaits `peek`.
   * @internal
   */
  peekNow(key: string, graceMs = 0): Lookup | undefined | typeof READ_LATER {
    const store = this.store;
    if (!canReadNow(store) || lookupsTraced()) return READ_LATER;
    const fullKey = this.namespace + key;
    let marked: MarkedValue | undefined | typeof READ_LATER;
    try {
      marked = store.readNow(fullKey);
    } catch {
      return READ_LATER;
    }
    if (marked === READ_LATER || marked === undefined) return marked;
    return this.lookupOf(fullKey, marked.value, marked.softAt, graceMs);
  }

  /**
   * Runs the fill protocol (single flight, fill lock, wait, re-check, limiter, stale decisions,
   * generation-guarded write) for a front-end. Keys and tags in `spec` and its writes are
   * without namespace.
   * @internal
   */
  fill<V>(spec: FillSpec<V>): Promise<FillResult<V>> {
    const ns = this.namespace;
    if (ns === '') return this.fills.run(spec);
    return this.fills.run({
      ...spec,
      key: ns + spec.key,
      tags: this.fullTags(spec.tags),
      load: async (context) => {
        const loaded = await spec.load(context);
        if (loaded.kind !== 'value' || loaded.writes === undefined) return loaded;
        return { ...loaded, writes: loaded.writes.map((write) => ({ ...write, key: ns + write.key, tags: this.fullTags(write.tags) })) };
      },
    });
  }

  /**
   * Reports the one outcome of a front-end's answer (`hit`, `stale`, `bypass`, ...). Keys are
   * without namespace.
   * @internal
   */
  report<E extends 'hit' | 'miss' | 'stale' | 'uncacheable' | 'bypass' | 'limited' | 'not-modified'>(event: E, payload: CacheEvents[E]): void {
    const key = (payload as { key?: string }).key;
    // The hit path reports too: no copy of the payload unless a namespace must be added.
    this.events.emit(event, (key === undefined || this.namespace === '' ? payload : { ...payload, key: this.namespace + key }) as CacheEvents[E]);
  }


  /**
   * Removes (or, with `soft`, marks stale) every entry whose key (without namespace) matches the
   * Redis glob `pattern`; resolves with the count. Escape ids with `escapeGlob`. Rejects when
   * the store fails.
   *
   * @example
   * ```ts
   * await cache.invalidatePattern(`character:${escapeGlob(id)}:*`);
   * await cache.invalidatePattern('api:feed:*', { soft: true });
   * ```
   */
  async invalidatePattern(pattern: string, options: InvalidateOptions = {}): Promise<number> {
    if (typeof pattern !== 'string' || pattern === '') throw new InvalidOptionError('pattern', `expected a non-empty glob, got ${String(pattern)}`);
    const soft = softOf(options);
    const fullPattern = this.namespacePattern() + pattern;
    const matcher = globToRegExp(fullPattern);
    const at = this.invalidations.record((fullKey) => matcher.test(fullKey));
    await this.stamp([this.patternStamp(pattern)], at);
    const count = await this.removePattern(fullPattern, soft, at);
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
   * await cache.invalidateTags(['team:blue'], { soft: true }); // stale until refreshed
   * ```
   */
  async invalidateTags(tags: readonly string[], options: InvalidateOptions = {}): Promise<number> {
    const soft = softOf(options);
    const fullTags = this.fullTags(resolveTags('tags', tags)) ?? [];
    if (fullTags.length === 0) return 0;
    const wanted = new Set(fullTags);
    const at = this.invalidations.record((_key, entryTags) => entryTags !== undefined && entryTags.some((tag) => wanted.has(tag)));
    await this.stamp(fullTags.map((tag) => `t:${tag}`), at);
    const count = await this.removeTags(fullTags, soft, at);
    this.events.emit('delete', { tags: fullTags, count });
    return count;
  }

  /**
   * Invalidates a scope. With an id, removes `{scope}:{id}`, every `{scope}:{id}:*` and every
   * entry tagged `{scope}:{id}`, which includes every answer of a `cacheResponse` route scoped
   * to it (`keyPrefix: 'character'` on `/characters/:id`: all query strings and Vary variants);
   * without one, every `{scope}:*`, every `api:{scope}:*` and every entry whose tag matches
   * `{scope}:*`. Glob characters in the scope and id are escaped, so
   * `invalidateScope('character', 'a*')` never touches `character:ab`. With `soft`, the same
   * entries are marked stale instead. Resolves with the count of entries removed (or marked);
   * rejects when the store fails.
   *
   * @example
   * ```ts
   * await cache.invalidateScope('character', 'char_123');
   * await cache.invalidateScope('content'); // the whole scope
   * await cache.invalidateScope('character', 'char_123', { soft: true }); // stale until refreshed
   * ```
   */
  async invalidateScope(scope: string, id?: string | number, options: InvalidateOptions = {}): Promise<number> {
    const resolved = resolveScope(scope, id);
    const soft = softOf(options);
    const ns = this.namespacePattern();
    const scopePattern = escapeGlob(resolved.scope);
    let count = 0;
    if (resolved.id === undefined) {
      const keyPatterns = scopeKeyPatterns(scopePattern).map((pattern) => ns + pattern);
      const tagPattern = `${ns}${scopePattern}:*`;
      const keyMatchers = keyPatterns.map((pattern) => globToRegExp(pattern));
      const tagMatcher = globToRegExp(tagPattern);
      const at = this.invalidations.record(
        (fullKey, tags) => keyMatchers.some((matcher) => matcher.test(fullKey)) || (tags !== undefined && tags.some((tag) => tagMatcher.test(tag))),
      );
      // Writers check the prefixes of their keys, not of their tags: a tag pattern is stamped as
      // the whole namespace (a whole-scope invalidation refuses every write in flight).
      await this.stamp([this.prefixStamp('')], at);
      for (const pattern of keyPatterns) count += await this.removePattern(pattern, soft, at);
      const store = this.store;
      if (soft && canSoftInvalidate(store)) {
        count += await this.guard('softDeleteTagPattern', tagPattern, () => store.softDeleteTagPattern(tagPattern, at));
      } else {
        count += await this.guard('deleteTagPattern', tagPattern, () => this.tagStore('invalidate a scope').deleteTagPattern(tagPattern));
      }
      this.events.emit('delete', { scope: this.namespace + resolved.scope, count });
      return count;
    }
    const name = `${resolved.scope}:${resolved.id}`;
    const fullName = this.namespace + name;
    const subKeys = `${ns}${escapeGlob(name)}:*`;
    const subMatcher = globToRegExp(subKeys);
    const at = this.invalidations.record(
      (fullKey, tags) => fullKey === fullName || subMatcher.test(fullKey) || (tags !== undefined && tags.includes(fullName)),
    );
    await this.stamp([`k:${fullName}`, this.prefixStamp(`${name}:`), `t:${fullName}`], at);
    const store = this.store;
    if (soft && canSoftInvalidate(store)) {
      if (await this.guard('softDelete', fullName, () => store.softDelete(fullName, at))) count++;
    } else if (await this.guard('delete', fullName, () => store.delete(fullName))) {
      count++;
    }
    count += await this.removePattern(subKeys, soft, at);
    count += await this.removeTags([fullName], soft, at);
    this.events.emit('delete', { scope: fullName, count });
    return count;
  }

  /**
   * Removes every entry of this cache: its namespace (entries and tags) when it has one, else
   * everything the store holds (on Redis: every key the client can see, so give shared servers
   * a namespace).
   */
  async clear(): Promise<void> {
    const at = this.invalidations.record(() => true);
    await this.stamp([this.prefixStamp('')], at);
    if (this.namespace) {
      const everything = `${this.namespacePattern()}*`;
      const count = (await this.deletePatternOf(everything)) + (await this.guard('deleteTagPattern', everything, () => this.tagStore('clear a namespace').deleteTagPattern(everything)));
      this.events.emit('delete', { pattern: everything, count });
      return;
    }
    await this.guard('clear', undefined, () => this.store.clear());
    // Without a namespace the store's clear takes the stamps too: stamp again, so writes that
    // loaded before the clear are still refused from here on.
    await this.stamp([this.prefixStamp('')], at);
  }

  /** Counters since the cache was created. */
  stats(): CacheStats {
    return { ...this.statsCollector.snapshot(), writeErrors: this.writeErrors };
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

  private patternStore(): PatternCapable {
    if (!canDeletePattern(this.store)) throw new UnsupportedOperationError(this.store.name, 'delete by pattern', 'PatternCapable');
    return this.store;
  }

  private tagStore(operation: string): TagCapable {
    if (!canDeleteTags(this.store)) throw new UnsupportedOperationError(this.store.name, operation, 'TagCapable');
    return this.store;
  }

  private deletePatternOf(fullPattern: string): Promise<number> {
    return this.guard('deletePattern', fullPattern, () => this.patternStore().deletePattern(fullPattern));
  }

  private deleteTagsOf(fullTags: readonly string[]): Promise<number> {
    return this.guard('deleteTags', undefined, () => this.tagStore('invalidate tags').deleteTags(fullTags));
  }

  /**
   * Stamps what an invalidation covers in the store, before it removes anything, so a load
   * started earlier in another process cannot write back afterwards (see `GuardCapable`). A
   * failed stamp does not stop the invalidation: its deletes decide whether it rejects (and
   * report the failure).
   */
  private async stamp(names: readonly string[], at: number): Promise<void> {
    const store = this.store;
    if (!canGuardWrites(store)) return;
    try {
      await store.stampInvalidations(names, at, INVALIDATION_STAMP_TTL_MS);
    } catch {
      // Not reported on its own: the invalidation's commands go to the same store right after,
      // and their failure is reported (once) and rejects the call.
    }
  }

  /** The stamp of a key prefix (without namespace, `''` or ending in `:`), cut at the guard's depth. */
  private prefixStamp(prefix: string): string {
    let cut = 0;
    for (let depth = 0; depth < STAMP_PREFIX_DEPTH; depth++) {
      const at = prefix.indexOf(':', cut);
      if (at === -1) break;
      cut = at + 1;
    }
    return `p:${this.namespace}${prefix.slice(0, cut)}`;
  }

  /**
   * What a pattern invalidation stamps: the exact key for a glob without wildcards, else the
   * literal text before its first glob character, cut back to a `:` (an over-approximation:
   * `char*` stamps the whole namespace, `character:1:*` only `character:1:`).
   */
  private patternStamp(pattern: string): string {
    const meta = pattern.search(/[*?[\\]/);
    if (meta === -1) return `k:${this.namespace}${pattern}`;
    const literal = pattern.slice(0, meta);
    return this.prefixStamp(literal.slice(0, literal.lastIndexOf(':') + 1));
  }

  /** The stamps a write checks: its key, its tags, and every prefix of its key. */
  private guardNames(fullKey: string, fullTags: readonly string[] | undefined): string[] {
    const names = [`k:${fullKey}`];
    for (const tag of fullTags ?? []) names.push(`t:${tag}`);
    const key = fullKey.slice(this.namespace.length);
    names.push(`p:${this.namespace}`);
    let at = -1;
    for (let depth = 0; depth < STAMP_PREFIX_DEPTH; depth++) {
      at = key.indexOf(':', at + 1);
      if (at === -1) break;
      names.push(`p:${this.namespace}${key.slice(0, at + 1)}`);
    }
    return names;
  }

  /**
   * The internal tag of a response key's Vary variants (`{key}:v:{digest}`, see
   * `cacheResponse`), so `delete(key)` finds them through an index instead of a keyspace scan.
   * It starts with the namespace, so `clear()` of a namespace removes its indexes too.
   */
  private variantTag(fullBaseKey: string): string {
    return `${this.namespace}__variants__:${fullBaseKey.slice(this.namespace.length)}`;
  }

  private removePattern(fullPattern: string, soft: boolean, at: number): Promise<number> {
    const store = this.store;
    if (soft && canSoftInvalidate(store)) return this.guard('softDeletePattern', fullPattern, () => store.softDeletePattern(fullPattern, at));
    return this.deletePatternOf(fullPattern);
  }

  private removeTags(fullTags: readonly string[], soft: boolean, at: number): Promise<number> {
    const store = this.store;
    if (soft && canSoftInvalidate(store)) return this.guard('softDeleteTags', undefined, () => store.softDeleteTags(fullTags, at));
    return this.deleteTagsOf(fullTags);
  }

  /** Reads and decodes an entry, traced on `express-cache-kit:lookup` when anyone listens. */
  private read(fullKey: string, graceMs: number): Promise<Lookup | undefined> {
    return traceLookup(fullKey, undefined, () => this.readStore(fullKey, graceMs));
  }

  /** Reads and decodes an entry; store failures and corrupt bytes are misses (and `error` events). */
  private async readStore(fullKey: string, graceMs: number): Promise<Lookup | undefined> {
    let bytes: Buffer | undefined;
    let softAt: number | undefined;
    const store = this.store;
    try {
      if (canSoftInvalidate(store)) {
        // The entry and its soft mark in one round trip (one MGET on Redis).
        const marked = await store.getWithMark(fullKey);
        bytes = marked?.value;
        softAt = marked?.softAt;
      } else {
        bytes = await store.get(fullKey);
      }
    } catch (error) {
      this.reportError(error, 'get', fullKey);
      return undefined;
    }
    return bytes === undefined ? undefined : this.lookupOf(fullKey, bytes, softAt, graceMs);
  }

  /** What stored bytes mean now: fresh, stale within `graceMs`, or nothing (expired, corrupt). */
  private lookupOf(fullKey: string, bytes: Buffer, softAt: number | undefined, graceMs: number): Lookup | undefined {
    let entry = this.decoded.get(bytes);
    if (entry === undefined) {
      try {
        entry = decodeEntry(bytes);
      } catch (error) {
        this.reportError(error, 'decode', fullKey);
        // Drop the unreadable bytes so the next request stores a good entry.
        this.store.delete(fullKey).catch(() => undefined);
        return undefined;
      }
      // An in-process store hands back the same Buffer on every hit: decode it once. Only
      // responses are remembered; values go to callers who may mutate what they get.
      if (entry.kind === 'response') this.decoded.set(bytes, entry);
    }
    // Soft-invalidated: the entry counts as expired at the mark, so every stale window (the
    // caller's revalidate and error windows, and its grace) is measured from the invalidation.
    // An entry written after the mark (the refresh) is not touched by it: writes are dated no
    // earlier than the latest invalidation (see write()), which is always later than its mark.
    const now = Date.now();
    // A mark's time can be up to a few ms ahead of the clock (generations tick by whole ms):
    // once marked, an entry is stale at once.
    if (softAt !== undefined && entry.createdAt < softAt && softAt < entry.expiresAt) entry = { ...entry, expiresAt: Math.min(softAt, now) };
    if (entry.expiresAt + graceMs <= now) return undefined;
    return { entry, stale: entry.expiresAt <= now };
  }

  private async write(
    fullKey: string,
    entry: Entry,
    ttlSeconds: number,
    fullTags: readonly string[] | undefined,
    generation: number | undefined,
    graceMs = 0,
  ): Promise<WriteOutcome> {
    // Checked synchronously right before the store call: an invalidation starting later issues
    // its commands after this write, so it removes what we store.
    if (generation !== undefined && this.invalidations.invalidatedSince(generation, fullKey, fullTags)) return 'invalidated';
    const issuedAt = this.invalidations.generation;
    // Dated no earlier than the latest invalidation here: what reaches the store now was loaded
    // after it (an older load was refused just above), so no soft mark of it may apply.
    // The lifetime is kept: the entry moves by those few milliseconds as a whole.
    if (entry.createdAt < issuedAt) entry = { ...entry, createdAt: issuedAt, expiresAt: entry.expiresAt + (issuedAt - entry.createdAt) };
    const store = this.store;
    const ttlMs = ttlSeconds * 1000 + graceMs;
    const variantOf = VARIANT_KEY.exec(fullKey);
    const tags = variantOf?.[1] === undefined ? fullTags : [...(fullTags ?? []), this.variantTag(variantOf[1])];
    try {
      if (generation !== undefined && canGuardWrites(store)) {
        // Other processes' invalidations: refused when one stamped this entry since the load began.
        if (!(await store.setUnlessInvalidated(fullKey, encodeEntry(entry), ttlMs, tags, this.guardNames(fullKey, fullTags), generation))) return 'invalidated';
      } else {
        await store.set(fullKey, encodeEntry(entry), ttlMs, tags);
      }
    } catch (error) {
      this.reportError(error, 'set', fullKey);
      return 'failed';
    }
    if (generation !== undefined && this.invalidations.invalidatedSince(issuedAt, fullKey, fullTags)) {
      // An invalidation began while the write was in flight. Where a tagged write is several
      // commands (Redis Cluster) it may have slipped between them, so remove the entry ourselves.
      try {
        await this.store.delete(fullKey);
      } catch (error) {
        this.reportError(error, 'delete', fullKey);
      }
      return 'invalidated';
    }
    this.events.emit('set', { key: fullKey, ttl: ttlSeconds });
    return 'stored';
  }

  private async guard<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.reportError(error, operation, key);
      throw error;
    }
  }

  /** A background refresh (stale-while-revalidate, refresh-ahead), unless one is running. */
  private refreshInBackground<T>(spec: FillSpec<T>): void {
    if (this.fills.inFlight(spec.key)) return;
    void this.fills.run({ ...spec, refresh: true }).then((result) => {
      if (result.kind === 'error') this.reportError(result.error, 'refresh', spec.key);
    });
  }

  /** The answer of a `wrap` call from its fill, with its one outcome event. */
  private settleWrap<T>(fullKey: string, result: FillResult<T>): T {
    switch (result.kind) {
      case 'loaded':
        this.events.emit('miss', { key: fullKey });
        return result.value;
      case 'shared':
      case 'mismatch':
        this.events.emit('hit', { key: fullKey });
        return result.value;
      case 'stale':
        this.events.emit('stale', { key: fullKey, reason: result.reason });
        return result.value;
      case 'limited':
        this.events.emit('limited', { key: fullKey, retryAfterMs: result.retryAfterMs });
        throw new RateLimitedError(result.limiter, result.retryAfterMs);
      case 'error':
        this.events.emit('miss', { key: fullKey });
        throw result.error;
      case 'served-stale':
        // Only HTTP loaders serve stale themselves; a value loader never does.
        throw new Error('unreachable: a wrap loader served stale');
    }
  }

  /**
   * Reports a store failure: the `error` event, and once a warning when nobody listens. The
   * resilience wrapper reports the failures it absorbs through here and never rethrows them, so
   * each failure is reported exactly once. @internal
   */
  reportError(error: unknown, operation: string, key: string | undefined): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.events.listenerCount('error') <= this.internalErrorListeners && !this.warnedUnheardError && !(err instanceof StoreClosedError)) {
      // Only the cache's own listeners are attached: say it once, so a dead store is not invisible.
      this.warnedUnheardError = true;
      process.emitWarning(`cache ${operation} failed (${err.message}); listen to the cache's "error" event to see every failure`, {
        code: 'CACHE_STORE_ERROR',
      });
    }
    this.events.emit('error', { error: err, operation, key });
  }

  /**
   * Records another instance's write or invalidation (heard on the bus) in the stale-write
   * guard, so a load in flight here cannot store what the other instance just replaced or
   * removed. Names are full (namespace included), as the store sees them.
   * @internal
   */
  applyRemoteInvalidation(names: {
    keys?: readonly string[];
    patterns?: readonly string[];
    tags?: readonly string[];
    tagPatterns?: readonly string[];
    clear?: boolean;
  }): void {
    if (names.clear === true) {
      this.invalidations.record(() => true);
      return;
    }
    const keys = new Set(names.keys);
    const patterns = (names.patterns ?? []).map((pattern) => globToRegExp(pattern));
    const tags = new Set(names.tags);
    const tagPatterns = (names.tagPatterns ?? []).map((pattern) => globToRegExp(pattern));
    this.invalidations.record(
      (fullKey, fullTags) =>
        keys.has(fullKey) ||
        patterns.some((pattern) => pattern.test(fullKey)) ||
        (fullTags !== undefined && fullTags.some((tag) => tags.has(tag) || tagPatterns.some((pattern) => pattern.test(tag)))),
    );
  }
}

export type { CacheEvents };

/** How a write ended: stored, refused because an invalidation overtook it, or failed in the store. */
type WriteOutcome = 'stored' | 'invalidated' | 'failed';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What {@link Cache.warm} (and `warmRoutes`) resolve: how many tasks succeeded, and the others' errors. */
export interface WarmResult<T> {
  ok: number;
  failed: Array<{ task: T; error: Error }>;
}

/**
 * Runs `run` over `tasks`, `concurrency` at once; never rejects.
 * @internal
 */
export async function runTasks<T>(tasks: readonly T[], concurrency: number | undefined, run: (task: T) => Promise<void>): Promise<WarmResult<T>> {
  const limit = concurrency ?? 4;
  if (!Number.isInteger(limit) || limit <= 0) throw new InvalidOptionError('concurrency', 'expected a positive integer');
  const failed: Array<{ task: T; error: Error }> = [];
  let ok = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++] as T;
      try {
        await run(task);
        ok++;
      } catch (error) {
        failed.push({ task, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return { ok, failed };
}

/** A Vary variant key of `cacheResponse`: `{base key}:v:{sha1 of the selecting headers}`. */
const VARIANT_KEY = /^(.*):v:[0-9a-f]{40}$/s;

function softOf(options: InvalidateOptions): boolean {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object like { soft: true }');
  const soft = options.soft ?? false;
  if (typeof soft !== 'boolean') throw new InvalidOptionError('soft', `expected a boolean, got ${String(soft)}`);
  return soft;
}

function graceOf(options: SetOptions): number {
  const grace = options.graceMs ?? 0;
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0) {
    throw new InvalidOptionError('graceMs', `expected a number of milliseconds >= 0, got ${String(grace)}`);
  }
  return grace;
}
