import type { PurgeQueue } from '../cdn/purge-queue';
import { StoreClosedError } from '../errors';
import { normaliseNamespace } from '../keys';
import { StatsCollector, type StatsSnapshot } from '../metrics/stats';
import { lookupsTraced } from '../metrics/tracing';
import type { Entry } from '../serializer';
import { type MarkedValue, READ_LATER, type Store, canReadNow } from '../stores/store';
import { type Ttl, type TtlProfiles, resolveTtl } from '../ttl';
import { resolveTags } from '../validate';
import { Entries, type Lookup } from './entries';
import type { TypedEmitter } from './events';
import { type CacheEventName, type CacheEvents, type CacheListener } from './events';
import { type EntryWrite, FillProtocol, type FillResult, type FillSpec } from './fill';
import { type InvalidateOptions, type InvalidationResult, type InvalidationTargets, Invalidator } from './invalidate';
import { type ResolvedCacheOptions, type SetOptions, graceOf } from './options';
import { type WarmResult, type WarmTask, runTasks } from './tasks';
import { type WrapHost, type WrapOptions, wrapValue } from './wrap';

export type { InvalidateOptions, InvalidationResult, InvalidationTargets } from './invalidate';
export { INVALIDATION_STAMP_TTL_MS } from './invalidate';
export type { Lookup } from './entries';
export type { WarmResult, WarmTask } from './tasks';
export type { SetOptions } from './options';
export type { WrapOptions } from './wrap';

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
 * as a miss (or a skipped write). Invalidations never get lost: one the store cannot take now is
 * journaled and applied when it answers again (the store serves no read until then); the call
 * emits `error` and resolves, or rejects with `InvalidationPendingError` when `strict` is set.
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
  private readonly invalidator: Invalidator;
  private readonly entries: Entries;
  private readonly wrapHost: WrapHost;
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
  private readonly purges: PurgeQueue | undefined;

  /**
   * @internal Use {@link createCache}, the composition root: it builds the store stack (breaker,
   * fallback) and hands the engine the composed store and the emitter the stack reports to.
   */
  constructor(store: Store, events: TypedEmitter, options: Pick<ResolvedCacheOptions, 'namespace' | 'profiles' | 'defaultTtlSeconds' | 'lock'>, purges?: PurgeQueue) {
    this.store = store;
    this.purges = purges;
    this.events = events;
    this.namespace = normaliseNamespace(options.namespace);
    const reportError = (error: unknown, operation: string, key: string | undefined): void => this.reportError(error, operation, key);
    this.invalidator = new Invalidator({
      store,
      namespace: this.namespace,
      emitDelete: (payload) => this.events.emit('delete', payload),
      reportError,
      purge: purges && ((request) => purges.push(request)),
    });
    this.entries = new Entries({ store, namespace: this.namespace, invalidator: this.invalidator, emitSet: (key, ttl) => this.events.emit('set', { key, ttl }), reportError });
    const host = {
      store,
      namespace: this.namespace,
      invalidations: this.invalidator.log,
      write: (write: EntryWrite, generation: number) => this.entries.write(write.key, write.entry, write.ttlSeconds, write.tags, generation, write.graceMs),
      reportError,
    };
    this.fills = new FillProtocol(host, options.lock, (key, endpoint, durationMs, stored) => this.events.emit('fill', { key, endpoint, durationMs, stored }));
    this.wrapHost = {
      namespace: this.namespace,
      fills: this.fills,
      entries: this.entries,
      events: this.events,
      fullTags: (tags) => this.fullTags(tags),
      resolveTtl: (ttl) => this.resolveTtl(ttl),
      reportError,
    };
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
    const found = await this.entries.read(fullKey, 0);
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
    return (await this.entries.write(this.namespace + key, { ...entry, createdAt: now, expiresAt: now + ttl * 1000 } as Entry, ttl, tags, options.generation, graceOf(options))) === 'stored';
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
    return this.invalidator.log.generation;
  }

  /**
   * Removes `key`, and when it is a response key of `cacheResponse`, every Vary variant stored
   * under it (`{key}:v:*`, found through their index, never by scanning). Resolves `true` when
   * an entry was removed (or marked, with `soft`). A store that cannot take it now gets it
   * from the journal later (see {@link InvalidateOptions.strict}).
   *
   * @example
   * ```ts
   * await cache.delete('character:1');
   * await cache.delete(apiKey('character', '/characters/1', ''), { soft: true });
   * ```
   */
  async delete(key: string, options: InvalidateOptions = {}): Promise<boolean> {
    return (await this.invalidator.key(key, options)).removed > 0;
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
  wrap<T>(key: string, loader: () => T | Promise<T>, options: WrapOptions<T> = {}): Promise<T> {
    return wrapValue(this.wrapHost, key, loader, options);
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
    return this.entries.read(this.namespace + key, graceMs);
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
    return this.entries.lookupOf(fullKey, marked.value, marked.softAt, graceMs);
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
   * Emits a `warning` (a front-end left something out to stay within a limit).
   * @internal
   */
  warn(payload: CacheEvents['warning']): void {
    this.events.emit('warning', payload);
  }

  /**
   * Removes (or, with `soft`, marks stale) every entry whose key (without namespace) matches the
   * Redis glob `pattern`; resolves with the count. Escape ids with `escapeGlob`.
   *
   * @example
   * ```ts
   * await cache.invalidatePattern(`character:${escapeGlob(id)}:*`);
   * await cache.invalidatePattern('api:feed:*', { soft: true });
   * ```
   */
  async invalidatePattern(pattern: string, options: InvalidateOptions = {}): Promise<number> {
    return (await this.invalidator.pattern(pattern, options)).removed;
  }

  /**
   * Removes every entry carrying one of `tags` (given without namespace), wherever it was
   * written from (`set`, `wrap`, `cacheResponse`); resolves with the count. The cost follows the
   * number of tagged entries, never the size of the store.
   *
   * @example
   * ```ts
   * await cache.set('character:1', ada, { tags: ['team:blue'] });
   * await cache.invalidateTags(['team:blue']); // 1
   * await cache.invalidateTags(['team:blue'], { soft: true }); // stale until refreshed
   * ```
   */
  async invalidateTags(tags: readonly string[], options: InvalidateOptions = {}): Promise<number> {
    return (await this.invalidator.tags(tags, options)).removed;
  }

  /**
   * Invalidates a scope. With an id, removes `{scope}:{id}`, every `{scope}:{id}:*` and every
   * entry tagged `{scope}:{id}`, which includes every answer of a `cacheResponse` route scoped
   * to it (`keyPrefix: 'character'` on `/characters/:id`: all query strings and Vary variants);
   * without one, every `{scope}:*`, every `api:{scope}:*` and every entry whose tag matches
   * `{scope}:*`. Glob characters in the scope and id are escaped, so
   * `invalidateScope('character', 'a*')` never touches `character:ab`. With `soft`, the same
   * entries are marked stale instead. Resolves with the count of entries removed (or marked).
   *
   * @example
   * ```ts
   * await cache.invalidateScope('character', 'char_123');
   * await cache.invalidateScope('content'); // the whole scope
   * await cache.invalidateScope('character', 'char_123', { soft: true }); // stale until refreshed
   * ```
   */
  async invalidateScope(scope: string, id?: string | number, options: InvalidateOptions = {}): Promise<number> {
    return (await this.invalidator.scope(scope, id, options)).removed;
  }

  /**
   * Invalidates every target of `targets` (scopes, tags, keys, patterns) and says what it did:
   * `{ removed, pending }`, `pending` when part of it was journaled because the store could not
   * take it now (applied when the store answers again; its reads are misses until then). One
   * failing target does not stop the others. What the helpers and `invalidateAfter` call.
   *
   * @example
   * ```ts
   * const { removed, pending } = await cache.invalidate({ scopes: [['character', id]], tags: ['leaderboard'] });
   * ```
   */
  invalidate(targets: InvalidationTargets, options: InvalidateOptions = {}): Promise<InvalidationResult> {
    return this.invalidator.targets(targets, options);
  }

  /**
   * Removes every entry of this cache: its namespace (entries and tags) when it has one, else
   * everything the store holds (on Redis: every key the client can see, so give shared servers
   * a namespace).
   */
  async clear(): Promise<void> {
    await this.invalidator.clear();
  }

  /** Counters since the cache was created. */
  stats(): CacheStats {
    return { ...this.statsCollector.snapshot(), writeErrors: this.writeErrors };
  }

  /**
   * Resolves once every invalidation handed to the `purge` hook of {@link createCache} was sent
   * or given up, retries included (at once without a hook). Purges run in the background; wait
   * for them in scripts and tests, or before a deploy step that needs the CDN clean.
   *
   * @example
   * ```ts
   * await cache.invalidateTags(['catalog']);
   * await cache.flushPurges(); // the CDN has been told (or every attempt failed, see the `error` event)
   * ```
   */
  flushPurges(): Promise<void> {
    return this.purges?.settled() ?? Promise.resolve();
  }

  /**
   * Closes the store. Later reads are misses; later invalidations reject. Purges still waiting
   * for a retry get one last attempt first, for 2 s at most (see {@link Cache.flushPurges}).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.purges?.close();
    await this.store.close();
  }

  // -------------------------------------------------------------------------------------------

  /** Tags carry the namespace like keys do, so two apps sharing a Redis never share a tag. */
  private fullTags(tags: readonly string[] | undefined): readonly string[] | undefined {
    if (tags === undefined) return undefined;
    return this.invalidator.fullTags(resolveTags('tags', tags) ?? []);
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
  applyRemoteInvalidation(names: Parameters<Invalidator['remote']>[0]): void {
    this.invalidator.remote(names);
  }
}

export type { CacheEvents };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
