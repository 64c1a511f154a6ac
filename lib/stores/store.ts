/**
 * The core contract every storage adapter implements. A store moves bytes under keys with a
 * TTL; it knows nothing of HTTP, JS types or namespaces (the `Cache` adds those, a layer up).
 *
 * Tags are opaque strings (the cache namespaces them like keys); a store that takes them keeps,
 * per tag, an index of the keys written with it, so a {@link TagCapable} store can remove them.
 *
 * Everything beyond this core is a separate capability interface a store may implement:
 * {@link PatternCapable}, {@link TagCapable}, {@link LockCapable}, {@link RateLimitCapable},
 * {@link PruneCapable}, {@link GuardCapable}, {@link SoftCapable}.
 * The engine checks for them with the `can*` guards and degrades gracefully where one is
 * missing (no cross-process lock: in-process coalescing only; no limiter: in-process limits).
 *
 * Errors: methods reject on failure (the cache turns read/write failures into misses and
 * `error` events). After {@link Store.close} every method rejects with `StoreClosedError`.
 *
 * @example
 * ```ts
 * class MapStore implements Store {
 *   readonly name = 'map';
 *   private readonly map = new Map<string, { value: Buffer; until: number }>();
 *   async get(key: string) { const e = this.map.get(key); return e && e.until > Date.now() ? e.value : undefined; }
 *   async set(key: string, value: Buffer, ttlMs: number) { this.map.set(key, { value: Buffer.from(value), until: Date.now() + ttlMs }); }
 *   async delete(key: string) { return this.map.delete(key); }
 *   async clear() { this.map.clear(); }
 *   async close() {}
 * }
 * ```
 */
export interface Store {
  /** A short name for logs and events, e.g. `memory` or `redis`. */
  readonly name: string;
  /** The bytes stored under `key`, or `undefined` when absent or expired. */
  get(key: string): Promise<Buffer | undefined>;
  /**
   * Stores `value` under `key` for `ttlMs` milliseconds, replacing any previous value atomically.
   * With `tags`, the entry joins each tag's index in the same atomic step where the store can
   * (standalone Redis, SQL), so an entry can never exist without being reachable from its tags.
   * A tag index lives at least as long as its longest-lived member. The store keeps its own copy
   * of `value`: callers may reuse their buffer.
   */
  set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void>;
  /** Removes `key`; resolves `true` when something was removed. */
  delete(key: string): Promise<boolean>;
  /** Removes every entry this store holds (never data it does not own). */
  clear(): Promise<void>;
  /** Releases resources; idempotent. Connections the store did not create are left open. */
  close(): Promise<void>;
}

/** Capability: removal by Redis-style glob. */
export interface PatternCapable {
  /**
   * Removes every key matching the Redis-style glob `pattern`; resolves with how many were
   * removed. Tag indexes and coordination keys are never matched (nor counted): they are not
   * entries.
   */
  deletePattern(pattern: string): Promise<number>;
}

/** Capability: removal by tag. */
export interface TagCapable {
  /**
   * Removes every entry carrying one of `tags`, and the tags' indexes; resolves with how many
   * entries were removed (already expired members are not counted). The cost is proportional to
   * the tagged entries, never to the size of the store.
   */
  deleteTags(tags: readonly string[]): Promise<number>;
  /**
   * Removes every tag whose name matches the Redis-style glob `pattern`, with all their entries;
   * resolves with how many entries were removed. Unlike `deleteTags` this walks the store's tag
   * names (on Redis a `SCAN` of the index keys).
   */
  deleteTagPattern(pattern: string): Promise<number>;
}

/** Capability: short exclusive locks, for stampede protection across processes. */
export interface LockCapable {
  /**
   * Takes the lock `key` for `ttlMs`. Resolves an owner token when taken, `undefined` when
   * someone else holds it. The lock expires by itself after `ttlMs`, so a dead holder cannot
   * block others for long.
   */
  acquireLock(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock `key`, only if `token` still owns it (a compare-and-delete). */
  releaseLock(key: string, token: string): Promise<void>;
}

/** Limits of an origin rate limiter; a limit of 0 is off. */
export interface RateLimits {
  /** Least time between two calls, in milliseconds. */
  minIntervalMs: number;
  /** Most calls per window. */
  maxPerWindow: number;
  /** The window of `maxPerWindow`, in milliseconds. */
  windowMs: number;
}

/** Capability: an origin rate limiter shared by every process using the store. */
export interface RateLimitCapable {
  /**
   * Records one origin call against the limiter named `key`, atomically across every process
   * sharing the store. Resolves 0 when the call is allowed (and counted), else the milliseconds
   * until one will be.
   */
  consumeRate(key: string, limits: RateLimits): Promise<number>;
}

/**
 * One of the most-hit entries in a {@link StoreInspection}.
 *
 * @example
 * ```ts
 * for (const { key, hits } of (await store.inspect()).top) console.log(key, hits);
 * ```
 */
export interface InspectedEntry {
  key: string;
  /** Hits counted so far (flushed from memory before the inspection). */
  hits: number;
  createdAt: Date;
  expiresAt: Date;
  lastAccessedAt: Date;
}

/**
 * What a {@link PruneCapable} store holds, as the monitoring queries of a SQL cache table
 * report it (entries, expired, hits, sizes, most-hit keys).
 *
 * @example
 * ```ts
 * const { entries, expired, hits } = await store.inspect();
 * console.log(`${entries - expired} live rows, ${hits} hits`);
 * ```
 */
export interface StoreInspection {
  /** Every row, expired ones included (until `prune()` removes them). */
  entries: number;
  /** Rows past their TTL: never returned by `get`, removed by the next `prune()`. */
  expired: number;
  /** Bytes of keys plus values over every row. */
  bytes: number;
  /** On-disk size of the table with its indexes (PostgreSQL) or of the database file (SQLite). */
  storageBytes: number;
  /** The sum of every row's hit count. */
  hits: number;
  /** `hits / entries`, or 0 when empty. */
  averageHits: number;
  /** Age of the oldest row (by `created_at`), in seconds; 0 when empty. */
  oldestAgeSeconds: number;
  /** The most-hit rows, most hits first. */
  top: InspectedEntry[];
}

/**
 * Capability: maintenance of stores that keep expired rows until removed (the SQL stores).
 *
 * @example
 * ```ts
 * setInterval(() => void store.prune().then((n) => log.info(`pruned ${n} rows`)), 3_600_000).unref();
 * ```
 */
export interface PruneCapable {
  /**
   * Removes expired rows in batches (so no statement holds a long lock) and, with a `maxEntries`
   * bound, the least recently accessed rows over it; resolves with how many rows it removed.
   */
  prune(): Promise<number>;
  /** Counts what the store holds; `top` (default 10) is how many most-hit rows to list. */
  inspect(options?: { top?: number }): Promise<StoreInspection>;
}

/**
 * Capability: invalidation stamps, the cross-process guard against stale write-backs. An
 * invalidation stamps the names it covers (`k:<key>`, `t:<tag>`, `p:<key prefix>`, chosen by the
 * cache) with the time it began, before it removes anything; a write that carries the time its
 * load began is refused when any of its names was stamped since. Stamps are small keys kept for
 * `ttlMs`; loads older than that are only guarded in-process.
 */
export interface GuardCapable {
  /** Stamps each of `names` with `atMs` (epoch milliseconds), kept `ttlMs`. */
  stampInvalidations(names: readonly string[], atMs: number, ttlMs: number): Promise<void>;
  /**
   * Like {@link Store.set}, but only when no stamp among `names` is later than `sinceMs` (a
   * stamp equal to it is the invalidation the load's generation already saw);
   * resolves whether the entry was written. The check and the write are one atomic step where
   * the store can (MemoryStore, standalone Redis); elsewhere (Redis Cluster) the store checks,
   * writes, checks again and deletes what it wrote if an invalidation slipped in between.
   */
  setUnlessInvalidated(key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined, names: readonly string[], sinceMs: number): Promise<boolean>;
}

/** What {@link SoftCapable.getWithMark} reads: the bytes, and when the entry was marked stale. */
export interface MarkedValue {
  value: Buffer;
  /** When a soft invalidation marked the entry (epoch ms), or undefined when it was not. */
  softAt: number | undefined;
}

/**
 * Capability: soft invalidation. Entries are marked stale (with the time of the invalidation)
 * instead of removed; the bytes are never read or rewritten. A mark lives as long as its entry,
 * and the cache treats an entry written before its mark as having expired at the mark.
 * Each method resolves with how many live entries it marked.
 */
export interface SoftCapable {
  /** The bytes under `key` and its soft mark, in one round trip; undefined when absent. */
  getWithMark(key: string): Promise<MarkedValue | undefined>;
  /** Marks `key`; resolves whether a live entry was marked. */
  softDelete(key: string, atMs: number): Promise<boolean>;
  /** Marks every key matching the Redis-style glob `pattern` (never tag indexes or coordination keys). */
  softDeletePattern(pattern: string, atMs: number): Promise<number>;
  /** Marks every entry carrying one of `tags`; the indexes stay (a later hard invalidation still finds them). */
  softDeleteTags(tags: readonly string[], atMs: number): Promise<number>;
  /** Marks every entry of every tag matching the Redis-style glob `pattern`. */
  softDeleteTagPattern(pattern: string, atMs: number): Promise<number>;
}

/** What {@link SyncReadCapable.readNow} answers when only the asynchronous read can tell. @internal */
export const READ_LATER: unique symbol = Symbol('express-cache-kit.readLater');

/**
 * Capability: reads answered in the same tick, for stores that hold entries in this process
 * (MemoryStore, an L1 tier's copies). A hit then costs no promise at all, which is most of what
 * an in-process hit costs beyond the HTTP stack. `readNow` returns what `getWithMark` would
 * resolve with, or {@link READ_LATER} when it cannot say without waiting (an L1 miss, an open
 * breaker, a closed store); the engine then reads asynchronously as before.
 * @internal
 */
export interface SyncReadCapable {
  readNow(key: string): MarkedValue | undefined | typeof READ_LATER;
}

/**
 * Capability: a freshness check without reading the value (the SQL stores keep expired rows
 * until pruned, and a refresh job asks them which keys need one).
 *
 * @example
 * ```ts
 * if (canCheckStale(store) && (await store.isStale('vendor:abc'))) await refreshVendor('abc');
 * ```
 */
export interface StalenessCapable {
  /** Whether `key` is absent or past its TTL. */
  isStale(key: string): Promise<boolean>;
}

/**
 * Every capability interface, by the short name the library uses for it. This map is the one
 * list of capabilities: the `can*` guards, the contract suite and every store wrapper derive
 * from it, and a wrapper must say how it forwards each one ({@link CapabilityForwarders}), so a
 * capability added here fails to compile until every wrapper handles it.
 */
export interface Capabilities {
  pattern: PatternCapable;
  tags: TagCapable;
  lock: LockCapable;
  rate: RateLimitCapable;
  prune: PruneCapable;
  guard: GuardCapable;
  soft: SoftCapable;
  stale: StalenessCapable;
  readNow: SyncReadCapable;
}

/** The short name of a capability interface (see {@link Capabilities}). */
export type CapabilityName = keyof Capabilities;

/** Every capability method of every interface, as one (optional) shape. */
export type CapabilityMethods = PatternCapable & TagCapable & LockCapable & RateLimitCapable & PruneCapable & GuardCapable & SoftCapable & StalenessCapable & SyncReadCapable;

/**
 * The methods of each capability, complete: a missing one is a compile error below.
 *
 * @example
 * ```ts
 * CAPABILITY_METHODS.soft; // ['getWithMark', 'softDelete', ...]
 * ```
 */
export const CAPABILITY_METHODS = {
  pattern: ['deletePattern'],
  tags: ['deleteTags', 'deleteTagPattern'],
  lock: ['acquireLock', 'releaseLock'],
  rate: ['consumeRate'],
  prune: ['prune', 'inspect'],
  guard: ['stampInvalidations', 'setUnlessInvalidated'],
  soft: ['getWithMark', 'softDelete', 'softDeletePattern', 'softDeleteTags', 'softDeleteTagPattern'],
  stale: ['isStale'],
  readNow: ['readNow'],
} as const satisfies { readonly [C in CapabilityName]: ReadonlyArray<keyof Capabilities[C]> };

// Compile-time completeness: every method of every capability is listed above.
type Unlisted = { [C in CapabilityName]: Exclude<keyof Capabilities[C], (typeof CAPABILITY_METHODS)[C][number]> }[CapabilityName];
const everyMethodListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyMethodListed;

/**
 * The capability names in a fixed order.
 *
 * @example
 * ```ts
 * for (const name of CAPABILITY_NAMES) console.log(name, hasCapability(store, name));
 * ```
 */
export const CAPABILITY_NAMES = Object.keys(CAPABILITY_METHODS) as CapabilityName[];

/**
 * How a store wrapper implements each capability over the store it wraps: given the inner store
 * (which has the capability), the wrapper's methods for it. Complete by type: a wrapper that
 * forgets a capability does not compile. Used with {@link forwardCapabilities}.
 *
 * @example
 * ```ts
 * const passThrough: CapabilityForwarders = {
 *   pattern: (inner) => ({ deletePattern: (pattern) => inner.deletePattern(pattern) }),
 *   // ... one entry per capability
 * };
 * ```
 */
export type CapabilityForwarders = { readonly [C in CapabilityName]: (inner: Store & Capabilities[C]) => Capabilities[C] };

/**
 * Gives `wrapper` exactly the capabilities `inner` has, each implemented by `forwarders`: the
 * one mechanism every wrapper (instrumentation, breaker and fallback, L1 tier) uses, so none can
 * drop a capability. Methods become own properties of `wrapper`, so the `can*` guards see them.
 *
 * @example
 * ```ts
 * class LoggingStore implements Store {
 *   constructor(readonly inner: Store) { forwardCapabilities(this, inner, loggingForwarders(inner)); }
 *   // ... get, set, delete, clear, close
 * }
 * ```
 */
export function forwardCapabilities(wrapper: object, inner: Store, forwarders: CapabilityForwarders): void {
  const target = wrapper as Record<string, unknown>;
  for (const name of CAPABILITY_NAMES) {
    if (!hasCapability(inner, name)) continue;
    const methods = (forwarders[name] as (store: Store) => object)(inner) as Record<string, unknown>;
    for (const method of CAPABILITY_METHODS[name]) target[method] = methods[method];
  }
}

/** A store with every capability the built-in stores have. */
export type FullStore = Store & PatternCapable & TagCapable & LockCapable & RateLimitCapable & GuardCapable & SoftCapable;

/**
 * Whether `store` has every method of capability `name`.
 *
 * @example
 * ```ts
 * if (hasCapability(store, 'prune')) await store.prune();
 * ```
 */
export function hasCapability<C extends CapabilityName>(store: Store, name: C): store is Store & Capabilities[C] {
  const record = store as unknown as Record<string, unknown>;
  return CAPABILITY_METHODS[name].every((method: string) => typeof record[method] === 'function');
}

/**
 * The capabilities `store` has, in {@link CAPABILITY_NAMES} order.
 *
 * @example
 * ```ts
 * capabilitiesOf(new MemoryStore()); // ['pattern', 'tags', 'lock', 'rate', 'guard', 'soft', 'readNow']
 * ```
 */
export function capabilitiesOf(store: Store): CapabilityName[] {
  return CAPABILITY_NAMES.filter((name) => hasCapability(store, name));
}

/** Whether `store` implements {@link PatternCapable}. */
export function canDeletePattern(store: Store): store is Store & PatternCapable {
  return hasCapability(store, 'pattern');
}

/** Whether `store` implements {@link TagCapable}. */
export function canDeleteTags(store: Store): store is Store & TagCapable {
  return hasCapability(store, 'tags');
}

/** Whether `store` implements {@link LockCapable}. */
export function canLock(store: Store): store is Store & LockCapable {
  return hasCapability(store, 'lock');
}

/** Whether `store` implements {@link RateLimitCapable}. */
export function canRateLimit(store: Store): store is Store & RateLimitCapable {
  return hasCapability(store, 'rate');
}

/**
 * Whether `store` implements {@link PruneCapable}.
 *
 * @example
 * ```ts
 * if (canPrune(store)) console.log((await store.inspect()).entries);
 * ```
 */
export function canPrune(store: Store): store is Store & PruneCapable {
  return hasCapability(store, 'prune');
}

/** Whether `store` implements {@link GuardCapable}. */
export function canGuardWrites(store: Store): store is Store & GuardCapable {
  return hasCapability(store, 'guard');
}

/** Whether `store` implements {@link SoftCapable}. */
export function canSoftInvalidate(store: Store): store is Store & SoftCapable {
  return hasCapability(store, 'soft');
}

/** Whether `store` implements {@link StalenessCapable}. */
export function canCheckStale(store: Store): store is Store & StalenessCapable {
  return hasCapability(store, 'stale');
}

/** Whether `store` implements {@link SyncReadCapable}. @internal */
export function canReadNow(store: Store): store is Store & SyncReadCapable {
  return typeof (store as Partial<SyncReadCapable>).readNow === 'function';
}

/** Whether `value` looks like a {@link Store} (the core methods). @internal */
export function isStore(value: unknown): value is Store {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return ['get', 'set', 'delete', 'clear', 'close'].every((name) => typeof record[name] === 'function');
}
