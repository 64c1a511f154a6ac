import { LRUCache } from 'lru-cache';
import type { InvalidationMessage } from '../bus/message';
import type { RedisBus } from '../bus/redis-bus';
import { InvalidOptionError, StoreClosedError } from '../errors';
import { globToRegExp } from '../keys';
import { nonNegativeInteger, plainObject, positiveInteger } from '../validate';
import type { CapabilityForwarders, CapabilityMethods, GuardCapable, MarkedValue, SoftCapable, Store, SyncReadCapable } from './store';
import { READ_LATER, forwardCapabilities } from './store';

/**
 * Options of the in-process tier in front of the store (`createCache({ l1 })`).
 *
 * @example
 * ```ts
 * createCache({ store: new RedisStore({ url }), l1: { maxEntries: 50_000, maxBytes: 64 * 1024 * 1024, ttlMs: 30_000 } });
 * ```
 */
export interface L1Options {
  /**
   * The most entries held in process; the least recently used is evicted past it. Must be a
   * positive integer.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * The most bytes held in process (keys plus stored envelopes, as `MemoryStore` counts them;
   * the heap cost per entry is higher, see docs/stores.md). A single entry larger than this is
   * never held in process. Must be a positive integer.
   * @default 33554432 (32 MiB)
   */
  maxBytes?: number;
  /**
   * The longest an in-process copy lives, in ms. A copy never outlives the entry's fresh TTL in
   * the store anyway; this caps it shorter (bounding how stale a copy can get if a message is
   * lost without the bus noticing). `0` means no cap beyond the entry's TTL.
   * @default 0
   */
  ttlMs?: number;
  /**
   * How long in-process copies may still answer once they can no longer be trusted: the bus is
   * down (another instance's invalidation may be missed) or the store is unreachable (an
   * invalidation may be journaled, here or elsewhere), in ms from that moment. `0` bypasses L1
   * at once: every read goes to the store (a miss while it is down) until the bus is back and
   * the journal is replayed, and L1 then starts empty. A larger bound keeps answering hot keys
   * from L1 through short blips, at the price of serving answers up to that old.
   * @default 0
   */
  maxStaleMs?: number;
}

/**
 * Defaults of {@link L1Options}.
 *
 * @example
 * ```ts
 * createCache({ store, l1: { ...DEFAULT_L1_OPTIONS, maxEntries: 100_000 } });
 * ```
 */
export const DEFAULT_L1_OPTIONS = Object.freeze({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, ttlMs: 0, maxStaleMs: 0 });

/** @internal */
export function resolveL1Options(options: L1Options): Required<L1Options> {
  plainObject('l1', options);
  for (const name of Object.keys(options)) {
    if (!(name in DEFAULT_L1_OPTIONS)) throw new InvalidOptionError(`l1.${name}`, 'unknown option; expected maxEntries, maxBytes, ttlMs or maxStaleMs');
  }
  return {
    maxEntries: positiveInteger('l1.maxEntries', options.maxEntries, DEFAULT_L1_OPTIONS.maxEntries),
    maxBytes: positiveInteger('l1.maxBytes', options.maxBytes, DEFAULT_L1_OPTIONS.maxBytes),
    ttlMs: nonNegativeInteger('l1.ttlMs', options.ttlMs, DEFAULT_L1_OPTIONS.ttlMs),
    maxStaleMs: nonNegativeInteger('l1.maxStaleMs', options.maxStaleMs, DEFAULT_L1_OPTIONS.maxStaleMs),
  };
}

/**
 * How the tier relates to the bus: `off` (no bus: one instance, or L1 copies only bounded by
 * their TTL), `up` (copies are used), `down` (the bus may be missing messages: copies are only
 * a stand-in while the store fails, and are dropped when the bus is back).
 *
 * @example
 * ```ts
 * if ((cache.store as TieredStore).busState === 'down') log.warn('L1 bypassed: the cache bus is reconnecting');
 * ```
 */
export type TierBusState = 'off' | 'up' | 'down';

/** The bus as the tier sees it (a {@link RedisBus}). @internal */
export type TierBus = Pick<RedisBus, 'publish' | 'close' | 'ready' | 'on' | 'state' | 'instanceId' | 'channel'>;

/** What the composition root supplies. @internal */
export interface TierHooks {
  /**
   * When the entry in `bytes` stops being fresh (epoch ms), or `undefined` when unreadable. The
   * tier knows bytes, not envelopes: this is how it keeps a copy no longer than the entry.
   */
  expiresAt(bytes: Buffer): number | undefined;
  /** Whether the store's circuit breaker is open. */
  degraded?(): boolean;
}

interface Copy {
  value: Buffer;
  /** The entry's soft mark when it was read, if it had one. */
  softAt: number | undefined;
  /** The entry's tags; `undefined` when unknown (read back from the store, written elsewhere). */
  tags: readonly string[] | undefined;
}

/**
 * A bounded in-process tier (L1) in front of a shared store (L2, e.g. Redis behind its circuit
 * breaker). A read found in L1 never touches L2; a miss reads L2 and keeps a copy for as long
 * as the entry is fresh (capped by `ttlMs`). Writes go to L2 first, then to L1. Invalidations
 * (keys, patterns, tags, tag patterns, clear; hard or soft) remove the L1 copies, then reach L2,
 * and are published on the bus before they resolve, so every instance drops its copies too
 * (see `RedisBus`). Soft marks and the write guard are L2's: a soft invalidation drops the
 * copies, and the next read finds the mark in L2; a guarded write is checked against L2's stamps.
 *
 * Copies read back from L2 do not know their tags (the store does not return them); the bus's
 * `set` messages carry them, and a copy whose tags are still unknown is dropped by every tag
 * invalidation, so tags never miss a copy.
 *
 * Copies are trusted only while the bus is up and L2 reachable. From the moment either fails,
 * copies answer for `maxStaleMs` at most (default 0: not at all), every read goes to L2 (a
 * miss while it is down), and no copy is kept; when the bus is back, or L2 recovers (its
 * journal replayed), every copy is dropped and L1 refills from L2.
 *
 * Locks, rate limits, maintenance and stamps go straight to L2: they must be shared.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url }), namespace: 'myapp', l1: { maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 } });
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class TieredStore implements Store, SyncReadCapable {
  readonly name: string;
  private readonly lru: LRUCache<string, Copy>;
  private readonly capMs: number;
  private readonly maxStaleMs: number;
  private readonly keysByTag = new Map<string, Set<string>>();
  // Copies whose tags are unknown: every tag invalidation must reach them.
  private readonly untagged = new Set<string>();
  // Tags learnt from other instances' `set` messages, for the copies this instance reads back.
  private readonly learntTags: LRUCache<string, readonly string[]>;
  // Bumped by every invalidation, local or remote, and every bus change: a copy made from a read
  // or write that started before the bump could be older than what the bump announced.
  private epoch = 0;
  private mode: TierBusState;
  // When copies stopped being trusted (bus down, L2 unreachable); undefined while trusted.
  private untrustedSince: number | undefined;
  private l2Down = false;
  // Set when a message could not be published: the other instances are owed a `clear`.
  private owed = false;
  private closed = false;

  constructor(
    readonly l2: Store,
    options: Required<L1Options>,
    private readonly hooks: TierHooks,
    /** The invalidation bus, when there is one. */
    readonly bus?: TierBus,
  ) {
    this.name = l2.name;
    this.capMs = options.ttlMs;
    this.maxStaleMs = options.maxStaleMs;
    this.mode = bus === undefined ? 'off' : 'down';
    if (bus !== undefined) this.untrustedSince = Date.now();
    this.lru = new LRUCache<string, Copy>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (copy, key) => copy.value.length + key.length,
      dispose: (copy, key) => this.unindex(key, copy),
    });
    this.learntTags = new LRUCache<string, readonly string[]>({ max: options.maxEntries });
    forwardCapabilities(this, l2, this.forwarders());
  }

  /** L2's capabilities, each keeping L1 and the other instances in step. */
  private forwarders(): CapabilityForwarders {
    return {
      pattern: (l2) => ({ deletePattern: (pattern) => this.invalidate({ patterns: [pattern] }, () => this.dropPattern(pattern), () => l2.deletePattern(pattern)) }),
      tags: (l2) => ({
        deleteTags: (tags) => this.invalidate({ tags }, () => this.dropTags(tags), () => l2.deleteTags(tags)),
        deleteTagPattern: (pattern) => this.invalidate({ tagPatterns: [pattern] }, () => this.dropTagPattern(pattern), () => l2.deleteTagPattern(pattern)),
      }),
      lock: (l2) => ({ acquireLock: (key, ttlMs) => l2.acquireLock(key, ttlMs), releaseLock: (key, token) => l2.releaseLock(key, token) }),
      rate: (l2) => ({ consumeRate: (key, limits) => l2.consumeRate(key, limits) }),
      prune: (l2) => ({ prune: () => l2.prune(), inspect: (options) => l2.inspect(options) }),
      guard: (l2) => this.guardOf(l2),
      soft: (l2) => this.softOf(l2),
      stale: (l2) => ({ isStale: (key) => l2.isStale(key) }),
      // The tier answers same-tick reads itself, whatever L2 can do.
      readNow: () => ({ readNow: this.readNow }),
    };
  }

  /**
   * The store behind the tier (L2), under the name every wrapper of this package uses for the
   * store it wraps, so what walks a stack (metrics, the dashboard's key list) sees through L1.
   */
  get inner(): Store {
    return this.l2;
  }

  /** How many copies L1 holds. */
  get size(): number {
    return this.lru.size;
  }

  /** The bytes L1 accounts for (keys plus envelopes), as counted against `maxBytes`. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** The bus as the tier sees it; see {@link TierBusState}. */
  get busState(): TierBusState {
    return this.mode;
  }

  /** `true` while the store's circuit breaker is open: L2 is skipped. */
  get degraded(): boolean {
    return this.hooks.degraded?.() ?? false;
  }

  /**
   * Resolves once the bus is subscribed (at once without a bus). Until then L1 copies are not
   * trusted, so every read goes to L2.
   */
  async ready(timeoutMs = 5_000): Promise<void> {
    await this.bus?.ready(timeoutMs);
  }

  /** Whether `key` has a copy in L1 (without touching its recency). */
  holds(key: string): boolean {
    return this.lru.has(key);
  }

  /** An L1 copy in the same tick; anything else is the asynchronous read's to answer. @internal */
  readNow(key: string): MarkedValue | undefined | typeof READ_LATER {
    if (this.closed || !this.usable()) return READ_LATER;
    const copy = this.lru.get(key);
    return copy === undefined ? READ_LATER : { value: copy.value, softAt: copy.softAt };
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.read(key, async () => {
      const value = await this.l2.get(key);
      return value === undefined ? undefined : { value, softAt: undefined };
    }))?.value;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    await this.write(key, value, ttlMs, tags, async () => {
      await this.l2.set(key, value, ttlMs, tags);
      return true;
    });
  }

  async delete(key: string): Promise<boolean> {
    return (await this.invalidate({ keys: [key] }, () => this.lru.delete(key), async () => ((await this.l2.delete(key)) ? 1 : 0))) > 0;
  }

  async clear(): Promise<void> {
    this.open();
    this.dropAll();
    try {
      await this.l2.clear();
    } finally {
      await this.publish({ kind: 'clear' });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropAll();
    await Promise.all([this.bus?.close(), this.l2.close()]);
  }

  // -------------------------------------------------------------------------------------------
  // Called by the composition root.

  /**
   * Applies another instance's message: drops the copies it names (and, for a `set`, learns the
   * key's tags). @internal
   */
  applyRemote(message: InvalidationMessage): void {
    this.epoch++;
    if (message.kind === 'clear') {
      this.dropAll();
      return;
    }
    for (const key of message.keys ?? []) {
      this.lru.delete(key);
      if (message.kind === 'set') this.learntTags.set(key, message.tags ?? []);
    }
    if (message.kind === 'set') return;
    for (const pattern of message.patterns ?? []) this.dropPattern(pattern);
    if (message.tags !== undefined && message.tags.length > 0) this.dropTags(message.tags);
    for (const pattern of message.tagPatterns ?? []) this.dropTagPattern(pattern);
  }

  /** The bus lost its subscription: messages may be missed from now on. @internal */
  busDown(): void {
    this.epoch++;
    this.mode = 'down';
    this.untrustedSince ??= Date.now();
  }

  /** The bus is subscribed again: drop what may have missed a message, trust copies again. @internal */
  busUp(): void {
    this.dropAll();
    this.mode = 'up';
    if (!this.l2Down) this.untrustedSince = undefined;
    if (this.owed) void this.publish({ kind: 'clear' });
  }

  /** L2's breaker opened: invalidations may be journaled, here or elsewhere. @internal */
  l2Degraded(): void {
    this.epoch++;
    this.l2Down = true;
    this.untrustedSince ??= Date.now();
  }

  /** L2's breaker closed again, its journal replayed. @internal */
  l2Recovered(): void {
    // Invalidations issued meanwhile may have reached neither L2 nor the bus, here or elsewhere.
    this.dropAll();
    this.l2Down = false;
    if (this.mode !== 'down') this.untrustedSince = undefined;
    if (this.owed && this.mode === 'up') void this.publish({ kind: 'clear' });
  }

  // -------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw new StoreClosedError('TieredStore');
  }

  /** Whether copies may answer: trusted, or untrusted for no longer than `maxStaleMs`. */
  private usable(): boolean {
    // Strictly less: with the default 0 no copy answers once untrusted, not even in the same ms.
    return this.untrustedSince === undefined || Date.now() - this.untrustedSince < this.maxStaleMs;
  }

  /** A copy when usable, else L2 (keeping a copy of what it returns while trusted). */
  private async read(key: string, fromL2: () => Promise<MarkedValue | undefined>): Promise<MarkedValue | undefined> {
    this.open();
    if (this.usable()) {
      const copy = this.lru.get(key);
      if (copy !== undefined) return { value: copy.value, softAt: copy.softAt };
    }
    const epoch = this.epoch;
    const found = await fromL2();
    if (found === undefined) {
      // An open breaker answers every read as a miss without asking L2: not L2 saying it is gone.
      if (!this.degraded) this.lru.delete(key);
      return undefined;
    }
    if (this.epoch === epoch && this.untrustedSince === undefined) this.keep(key, found.value, this.learntTags.get(key), Number.POSITIVE_INFINITY, found.softAt);
    else this.lru.delete(key);
    return found;
  }

  /** Writes through L2 (`toL2` resolves whether it wrote), then keeps a copy and tells the peers. */
  private async write(key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined, toL2: () => Promise<boolean>): Promise<boolean> {
    this.open();
    const epoch = this.epoch;
    // The older copy must not answer while the write is in flight.
    this.lru.delete(key);
    if (!(await toL2())) return false;
    this.learntTags.set(key, tags ?? []);
    if (this.epoch === epoch && this.untrustedSince === undefined) this.keep(key, value, tags ?? [], ttlMs, undefined);
    // Not awaited: a write is answered once stored; peers only drop a copy they may not have.
    void this.publish({ kind: 'set', keys: [key], tags: tags ?? [] });
    return true;
  }

  /**
   * One invalidation: drop the local copies first (no copy answers once it began), then L2, then
   * tell the peers, whether L2 took it or not (a journaled one still makes their copies stale).
   * Resolves after the publish, so an awaited invalidation has reached every tier.
   */
  private async invalidate(names: Omit<InvalidationMessage, 'kind'>, dropLocal: () => void, onL2: () => Promise<number>): Promise<number> {
    this.open();
    this.epoch++;
    dropLocal();
    try {
      return await onL2();
    } finally {
      await this.publish({ kind: 'invalidate', ...names });
    }
  }

  private guardOf(l2: Store & GuardCapable): GuardCapable {
    return {
      stampInvalidations: (names, atMs, ttlMs) => l2.stampInvalidations(names, atMs, ttlMs),
      setUnlessInvalidated: (key, value, ttlMs, tags, names, sinceMs) =>
        this.write(key, value, ttlMs, tags, () => l2.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs)),
    };
  }

  private softOf(l2: Store & SoftCapable): SoftCapable {
    return {
      getWithMark: (key) => this.read(key, () => l2.getWithMark(key)),
      softDelete: async (key, atMs) => (await this.invalidate({ keys: [key], soft: true }, () => this.lru.delete(key), async () => ((await l2.softDelete(key, atMs)) ? 1 : 0))) > 0,
      softDeletePattern: (pattern, atMs) => this.invalidate({ patterns: [pattern], soft: true }, () => this.dropPattern(pattern), () => l2.softDeletePattern(pattern, atMs)),
      softDeleteTags: (tags, atMs) => this.invalidate({ tags, soft: true }, () => this.dropTags(tags), () => l2.softDeleteTags(tags, atMs)),
      softDeleteTagPattern: (pattern, atMs) =>
        this.invalidate({ tagPatterns: [pattern], soft: true }, () => this.dropTagPattern(pattern), () => l2.softDeleteTagPattern(pattern, atMs)),
    };
  }

  private async publish(message: InvalidationMessage): Promise<void> {
    if (this.bus === undefined) return;
    if (this.owed) {
      // Peers missed something this instance did: a clear covers whatever it was.
      this.owed = false;
      if (!(await this.bus.publish({ kind: 'clear' }))) {
        this.owed = true;
        return;
      }
      if (message.kind === 'clear') return;
    }
    if (!(await this.bus.publish(message))) this.owed = true;
  }

  /** Keeps a copy of `bytes` no longer than the entry is fresh, `maxMs`, and the `ttlMs` cap. */
  private keep(key: string, bytes: Buffer, tags: readonly string[] | undefined, maxMs: number, softAt: number | undefined): void {
    // A marked entry is stale: read from L2 each time, like any stale entry.
    if (softAt !== undefined) {
      this.lru.delete(key);
      return;
    }
    const expiresAt = this.hooks.expiresAt(bytes);
    if (expiresAt === undefined) return;
    let ttl = Math.min(expiresAt - Date.now(), maxMs);
    if (this.capMs > 0) ttl = Math.min(ttl, this.capMs);
    // A stale entry (kept in L2 for stale-while-revalidate) is read from L2 each time.
    if (!(ttl >= 1)) return;
    // A copy of its own, exactly sized: a slice of a pooled or socket buffer would keep the
    // whole pool slab (or read chunk) alive as long as the copy lives (measured: twice the bytes).
    const value = Buffer.allocUnsafeSlow(bytes.length);
    bytes.copy(value);
    const copy: Copy = { value, softAt: undefined, tags };
    this.lru.set(key, copy, { ttl: Math.floor(ttl) });
    // An entry larger than maxBytes is refused by the LRU: it must not be indexed either.
    if (this.lru.peek(key) === copy) this.index(key, copy);
  }

  private dropAll(): void {
    this.epoch++;
    this.lru.clear();
    this.learntTags.clear();
    this.keysByTag.clear();
    this.untagged.clear();
  }

  private dropPattern(pattern: string): void {
    const matcher = globToRegExp(pattern);
    // Collect first: deleting while iterating the LRU's linked list would skip entries.
    for (const key of [...this.lru.keys()].filter((candidate) => matcher.test(candidate))) this.lru.delete(key);
    for (const key of [...this.learntTags.keys()].filter((candidate) => matcher.test(candidate))) this.learntTags.delete(key);
  }

  private dropTags(tags: readonly string[]): void {
    const doomed = new Set(this.untagged);
    for (const tag of tags) for (const key of this.keysByTag.get(tag) ?? []) doomed.add(key);
    for (const key of doomed) this.lru.delete(key);
  }

  private dropTagPattern(pattern: string): void {
    const matcher = globToRegExp(pattern);
    this.dropTags([...this.keysByTag.keys()].filter((tag) => matcher.test(tag)));
  }

  private index(key: string, copy: Copy): void {
    if (copy.tags === undefined) {
      this.untagged.add(key);
      return;
    }
    for (const tag of new Set(copy.tags)) {
      let keys = this.keysByTag.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.keysByTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  private unindex(key: string, copy: Copy): void {
    if (copy.tags === undefined) {
      this.untagged.delete(key);
      return;
    }
    for (const tag of copy.tags) {
      const keys = this.keysByTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.keysByTag.delete(tag);
    }
  }
}

// Capabilities are own properties, present exactly when L2 has them (and `readNow`, always).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface TieredStore extends Partial<Omit<CapabilityMethods, 'readNow'>> {}
