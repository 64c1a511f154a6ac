import type { PurgeQueue } from '../cdn/purge-queue';
import { InvalidOptionError, StoreClosedError } from '../errors';
import { normaliseNamespace } from '../keys';
import { StatsCollector, type StatsSnapshot } from '../metrics/stats';
import { lookupsTraced } from '../metrics/tracing';
import type { Entry } from '../serializer';
import { type MarkedValue, READ_LATER, type Store, canReadNow } from '../stores/store';
import { type Ttl, type TtlProfiles, resolveTtl } from '../ttl';
import { optionNames, optionalString, plainObject, rejectUnknownOptions, resolveTags } from '../validate';
import { Entries, type Lookup } from './entries';
import { TypedEmitter } from './events';
import { type CacheEventName, type CacheEvents, type CacheListener } from './events';
import { type EntryWrite, FillProtocol, type FillResult, type FillSpec } from './fill';
import { type InvalidateOptions, type InvalidationResult, type InvalidationTargets, Invalidator } from './invalidate';
import { type ResolvedCacheOptions, type SetOptions, graceOf } from './options';
import { RouteRecords, unreachedMessage } from './routes';
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
  /**
   * The normalised namespace every key and tag of this cache starts with (`''` or ending with
   * `:`). (It was called `namespace` before {@link Cache.namespace} made child caches.)
   */
  readonly namespacePrefix: string;
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
  /** Whether this cache caches at all (see `CacheOptions.enabled`). */
  readonly enabled: boolean;
  /**
   * The routes and key prefixes seen through this cache, so a scope invalidation that reaches
   * nothing can say why.
   * @internal
   */
  readonly routes = new RouteRecords();
  /** Fills, loads and writes in flight: `close()` waits for them (bounded). */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly options: CacheConstruction;
  /** Set on a child made by {@link Cache.namespace}: the store belongs to the parent. */
  private readonly sharesStore: boolean;
  /** Where invalidations go on to the CDN (`purge` of `createCache`); shared with child caches. */
  private readonly purges: PurgeQueue | undefined;

  /**
   * @internal Use {@link createCache}, the composition root: it builds the store stack (breaker,
   * fallback) and hands the engine the composed store and the emitter the stack reports to.
   */
  constructor(store: Store, events: TypedEmitter, options: CacheConstruction, sharesStore = false, purges?: PurgeQueue) {
    this.store = store;
    this.options = options;
    this.sharesStore = sharesStore;
    this.purges = purges;
    this.enabled = options.enabled ?? true;
    this.events = events;
    this.namespacePrefix = normaliseNamespace(options.namespace);
    const reportError = (error: unknown, operation: string, key: string | undefined): void => this.reportError(error, operation, key);
    this.invalidator = new Invalidator({
      store,
      namespace: this.namespacePrefix,
      emitDelete: (payload) => this.events.emit('delete', payload),
      reportError,
      purge: purges && ((request) => purges.push(request)),
    });
    this.entries = new Entries({ store, namespace: this.namespacePrefix, invalidator: this.invalidator, emitSet: (key, ttl) => this.events.emit('set', { key, ttl }), reportError });
    const host = {
      store,
      namespace: this.namespacePrefix,
      invalidations: this.invalidator.log,
      write: (write: EntryWrite, generation: number) => this.track(this.entries.write(write.key, write.entry, write.ttlSeconds, write.tags, generation, write.graceMs)),
      reportError,
    };
    this.fills = new FillProtocol(host, options.lock, (key, endpoint, durationMs, stored) => this.events.emit('fill', { key, endpoint, durationMs, stored }));
    this.wrapHost = {
      namespace: this.namespacePrefix,
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
    this.statsCollector = new StatsCollector({ namespace: this.namespacePrefix });
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
    if (!this.enabled) return undefined;
    const fullKey = this.namespacePrefix + key;
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
    checkOptions('Cache.set', options, SET_OPTION_NAMES);
    if (!this.enabled) return false;
    this.routes.noteKey(key);
    return this.track(this.setEntry(key, { kind: 'value', value }, options));
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
    return (await this.entries.write(this.namespacePrefix + key, { ...entry, createdAt: now, expiresAt: now + ttl * 1000 } as Entry, ttl, tags, options.generation, graceOf(options))) === 'stored';
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
    checkOptions('Cache.delete', options, INVALIDATE_OPTION_NAMES);
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
    try {
      checkOptions('Cache.wrap', options, WRAP_OPTION_NAMES);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.enabled) return Promise.resolve().then(loader);
    this.routes.noteKey(key);
    return this.track(wrapValue(this.wrapHost, key, loader, options));
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
    return this.entries.read(this.namespacePrefix + key, graceMs);
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
    const fullKey = this.namespacePrefix + key;
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
    const ns = this.namespacePrefix;
    if (ns === '') return this.track(this.fills.run(spec));
    return this.track(this.fills.run({
      ...spec,
      key: ns + spec.key,
      tags: this.fullTags(spec.tags),
      load: async (context) => {
        const loaded = await spec.load(context);
        if (loaded.kind !== 'value' || loaded.writes === undefined) return loaded;
        return { ...loaded, writes: loaded.writes.map((write) => ({ ...write, key: ns + write.key, tags: this.fullTags(write.tags) })) };
      },
    }));
  }

  /**
   * Reports the one outcome of a front-end's answer (`hit`, `stale`, `bypass`, ...). Keys are
   * without namespace.
   * @internal
   */
  report<E extends 'hit' | 'miss' | 'stale' | 'uncacheable' | 'bypass' | 'limited' | 'not-modified'>(event: E, payload: CacheEvents[E]): void {
    const key = (payload as { key?: string }).key;
    // The hit path reports too: no copy of the payload unless a namespace must be added.
    this.events.emit(event, (key === undefined || this.namespacePrefix === '' ? payload : { ...payload, key: this.namespacePrefix + key }) as CacheEvents[E]);
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
    checkOptions('Cache.invalidatePattern', options, INVALIDATE_OPTION_NAMES);
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
    checkOptions('Cache.invalidateTags', options, INVALIDATE_OPTION_NAMES);
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
    checkOptions('Cache.invalidateScope', options, INVALIDATE_OPTION_NAMES);
    const result = await this.invalidator.scope(scope, id, options);
    this.checkReached([scope], result);
    return result.removed;
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
  async invalidate(targets: InvalidationTargets, options: InvalidateOptions = {}): Promise<InvalidationResult> {
    checkOptions('Cache.invalidate', options, INVALIDATE_OPTION_NAMES);
    const result = await this.invalidator.targets(targets, options);
    const scopes = targets.scopes?.map((scope) => (typeof scope === 'string' ? scope : scope[0]));
    if (scopes !== undefined) this.checkReached(scopes, result);
    return result;
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
   * Waits (at most {@link CLOSE_WAIT_MS}) for the fills and writes in flight, among them the
   * writes and lock releases of answers already sent, then closes the store (a child made by
   * {@link Cache.namespace} leaves the shared store open). Later reads are misses; later
   * invalidations reject. Purges still waiting for a retry get one last attempt first, for 2 s
   * at most (see {@link Cache.flushPurges}).
   *
   * @example
   * ```ts
   * server.close();
   * await cache.close(); // the last miss's entry is written and its lock released first
   * ```
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const hook of this.closeHooks) hook();
    this.closeHooks.clear();
    await this.settled();
    if (this.sharesStore) return;
    await this.purges?.close();
    await this.store.close();
  }

  // -------------------------------------------------------------------------------------------
  // Everyday switches: presence, remaining lifetime, batches, child caches.

  /**
   * Whether a fresh value is stored under `key` (no `hit`/`miss` event: it is not a read).
   *
   * @example
   * ```ts
   * if (!(await cache.has('platform:status'))) await cache.set('platform:status', await loadStatus());
   * ```
   */
  async has(key: string): Promise<boolean> {
    if (!this.enabled) return false;
    const found = await this.entries.read(this.namespacePrefix + key, 0);
    return found !== undefined && !found.stale;
  }

  /**
   * The remaining fresh lifetime of `key`, in seconds (fractions included), or `undefined` when
   * nothing fresh is stored under it.
   *
   * @example
   * ```ts
   * await cache.set('session:1', session, { ttl: 600 });
   * await cache.ttl('session:1'); // about 600
   * ```
   */
  async ttl(key: string): Promise<number | undefined> {
    if (!this.enabled) return undefined;
    const found = await this.entries.read(this.namespacePrefix + key, 0);
    if (found === undefined || found.stale) return undefined;
    return Math.max(0, found.entry.expiresAt - Date.now()) / 1000;
  }

  /**
   * The values of several keys at once, in the order given (`undefined` for each miss).
   *
   * @example
   * ```ts
   * const [ada, bob] = await cache.mget<Character>(['character:1', 'character:2']);
   * ```
   */
  async mget<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', `expected an array of keys, got ${typeof keys}`);
    return Promise.all(keys.map((key) => this.get<T>(key)));
  }

  /**
   * Stores several values at once, each with its own `ttl` and `tags` (as {@link Cache.set}).
   * Resolves `true` when every one was stored.
   *
   * @example
   * ```ts
   * await cache.mset([
   *   { key: 'character:1', value: ada, ttl: 'character' },
   *   { key: 'character:2', value: bob },
   * ]);
   * ```
   */
  async mset(entries: readonly CacheSetEntry[]): Promise<boolean> {
    if (!Array.isArray(entries)) throw new InvalidOptionError('entries', `expected an array of { key, value, ttl?, tags? }, got ${typeof entries}`);
    entries.forEach((entry, index) => {
      plainObject(`entries[${index}]`, entry);
      rejectUnknownOptions('Cache.mset entry', entry, MSET_ENTRY_NAMES, `entries[${index}].`);
    });
    const stored = await Promise.all(entries.map(({ key, value, ttl, tags }) => this.set(key, value, { ttl, tags })));
    return stored.every(Boolean);
  }

  /**
   * A child cache whose keys, tags and `clear()` live under `{namespace}{name}:`, sharing this
   * cache's store, profiles and switches. It has its own events and `stats()`; failures the
   * store stack absorbs (breaker, fallback) are reported on this (the parent) cache. Its
   * `close()` waits for its own work and leaves the shared store open.
   *
   * @example
   * ```ts
   * const users = cache.namespace('users');
   * await users.set('1', ada);   // key users:1
   * await users.clear();         // only users:*
   * ```
   */
  namespace(name: string): Cache {
    const checked = optionalString('name', name);
    if (checked === undefined) throw new InvalidOptionError('name', 'expected a non-empty namespace name');
    return new Cache(this.store, new TypedEmitter(), { ...this.options, namespace: this.namespacePrefix + checked }, true, this.purges);
  }

  /**
   * Records a route answering through this cache, for the `warning` of a scope invalidation
   * that reached nothing.
   * @internal
   */
  noteRoute(endpoint: string, scope: string | undefined, debug: boolean): void {
    this.routes.noteRoute(endpoint, scope, debug);
  }

  /** Emits `warning` (once per scope) for scopes an invalidation could not have reached. */
  private checkReached(scopes: readonly string[], result: InvalidationResult): void {
    if (result.removed > 0 || result.pending) return;
    for (const scope of scopes) {
      if (this.routes.uses(scope) || !this.routes.firstWarning(scope)) continue;
      const routes = this.routes.known();
      const message = unreachedMessage(scope, routes);
      this.events.emit('warning', { code: 'scope-unreached', message, scope, routes });
      if (this.routes.debug || debugFromEnvironment()) console.warn(`express-cache-kit: ${message}`);
    }
  }

  /** Remembers `work` until it settles, so `close()` can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = (): void => {
      this.pending.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /** Resolves when the work in flight settled, or after {@link CLOSE_WAIT_MS}. */
  private async settled(): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
      timer.unref();
    });
    // Work started while waiting (a write after a fill) is waited for too.
    const drain = async (): Promise<void> => {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    };
    await Promise.race([drain(), timeout]);
    clearTimeout(timer);
  }

  // -------------------------------------------------------------------------------------------
  // Background refresh (cacheResponse's background revalidation, refreshAhead, refreshRoutes).

  private readonly closeHooks = new Set<() => void>();

  /** Whether {@link Cache.close} was called. @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs `hook` when the cache closes (a schedule stops); returns a function that unregisters it. @internal */
  onClose(hook: () => void): () => void {
    this.closeHooks.add(hook);
    return () => this.closeHooks.delete(hook);
  }

  /** Emits a `refresh` event; `key` without namespace. @internal */
  reportRefresh(payload: CacheEvents['refresh']): void {
    this.events.emit('refresh', payload.key === undefined || this.namespacePrefix === '' ? payload : { ...payload, key: this.namespacePrefix + payload.key });
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

/**
 * The longest `Cache.close()` waits for fills and writes in flight, in ms: a store that neither
 * answers nor fails cannot hold a shutdown longer.
 *
 * @example
 * ```ts
 * const shutdownBudgetMs = CLOSE_WAIT_MS + 1_000; // close() plus the rest of the shutdown
 * ```
 */
export const CLOSE_WAIT_MS = 2_000;

/**
 * One entry of {@link Cache.mset}.
 *
 * @example
 * ```ts
 * const entry: CacheSetEntry = { key: 'character:1', value: { name: 'Ada' }, ttl: 'character' };
 * ```
 */
export interface CacheSetEntry {
  key: string;
  value: unknown;
  /** Seconds, a duration string or a profile name; defaults to the cache's `defaultTtl`. */
  ttl?: Ttl;
  /** Tags for the entry (see {@link SetOptions.tags}). */
  tags?: readonly string[];
}

/** What the engine is built from (see `createCache`). @internal */
export type CacheConstruction = Pick<ResolvedCacheOptions, 'namespace' | 'profiles' | 'defaultTtlSeconds' | 'lock'> & { enabled?: boolean };

// The option names of each call taking options: the compiler keeps each equal to its interface.
const SET_OPTION_NAMES = optionNames<SetOptions>({ ttl: true, tags: true, generation: true, graceMs: true });
/** @internal `getCachedQuery` takes these plus `cache`. */
export const WRAP_OPTION_NAMES = optionNames<WrapOptions>({
  ttl: true,
  cacheNull: true,
  condition: true,
  tags: true,
  refreshAhead: true,
  adaptiveTtl: true,
  staleWhileRevalidate: true,
  staleIfError: true,
  limiter: true,
});
const INVALIDATE_OPTION_NAMES = optionNames<InvalidateOptions>({ soft: true, strict: true });
const MSET_ENTRY_NAMES = optionNames<CacheSetEntry>({ key: true, value: true, ttl: true, tags: true });

/**
 * Throws unless `options` is an options object with known names. A number gets its own
 * message: it is a positional TTL in the habit of other caches, silently ignored otherwise.
 */
function checkOptions(owner: string, options: unknown, known: readonly string[]): void {
  if (typeof options === 'number' || typeof options === 'string') {
    const ttl = typeof options === 'number' ? String(options) : JSON.stringify(options);
    throw new InvalidOptionError('options', `${owner} takes an options object, not a bare ${typeof options}: write { ttl: ${ttl} } (a TTL in seconds, a duration string or a profile name)`);
  }
  plainObject(`${owner} options`, options);
  rejectUnknownOptions(owner, options as object, known);
}

/** The `debug` default of the middleware, which also logs unreached scopes. */
function debugFromEnvironment(): boolean {
  const value = process.env.EXPRESS_CACHE_KIT_DEBUG;
  return value === '1' || value === 'true';
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
