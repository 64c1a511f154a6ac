import { LRUCache } from 'lru-cache';
import type { InvalidationMessage } from '../bus/message';
import type { RedisBus } from '../bus/redis-bus';
import { InvalidOptionError, StoreClosedError } from '../errors';
import { globToRegExp } from '../keys';
import { nonNegativeInteger, plainObject, positiveInteger } from '../validate';
import type { LockCapable, MarkedValue, PatternCapable, RateLimitCapable, Store, SyncReadCapable, TagCapable } from './store';
import { READ_LATER, canDeletePattern, canDeleteTags, canLock, canRateLimit } from './store';

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
   * the heap cost per entry is higher, see the README). A single entry larger than this is
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
}

/**
 * Defaults of {@link L1Options}.
 *
 * @example
 * ```ts
 * createCache({ store, l1: { ...DEFAULT_L1_OPTIONS, maxEntries: 100_000 } });
 * ```
 */
export const DEFAULT_L1_OPTIONS = Object.freeze({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, ttlMs: 0 });

/** @internal */
export function resolveL1Options(options: L1Options): Required<L1Options> {
  plainObject('l1', options);
  for (const name of Object.keys(options)) {
    if (!(name in DEFAULT_L1_OPTIONS)) throw new InvalidOptionError(`l1.${name}`, 'unknown option; expected maxEntries, maxBytes or ttlMs');
  }
  return {
    maxEntries: positiveInteger('l1.maxEntries', options.maxEntries, DEFAULT_L1_OPTIONS.maxEntries),
    maxBytes: positiveInteger('l1.maxBytes', options.maxBytes, DEFAULT_L1_OPTIONS.maxBytes),
    ttlMs: nonNegativeInteger('l1.ttlMs', options.ttlMs, DEFAULT_L1_OPTIONS.ttlMs),
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
  /** The entry's tags; `undefined` when unknown (read back from the store, written elsewhere). */
  tags: readonly string[] | undefined;
}

/**
 * A bounded in-process tier (L1) in front of a shared store (L2, e.g. Redis behind its circuit
 * breaker). A read found in L1 never touches L2; a miss reads L2 and keeps a copy for as long
 * as the entry is fresh (capped by `ttlMs`). Writes go to L2 first, then to L1. Invalidations
 * (keys, patterns, tags, tag patterns, clear) remove the L1 copies and the L2 entries together,
 * and are published on the bus, so every instance drops its copies too (see `RedisBus`).
 *
 * Copies read back from L2 do not know their tags (the store does not return them); the bus's
 * `set` messages carry them, and a copy whose tags are still unknown is dropped by every tag
 * invalidation, so tags never miss a copy.
 *
 * While the bus is down (or not yet subscribed), messages may be missed: reads go to L2 first
 * and a copy answers only when L2 fails (the degraded state, Redis unreachable); when the bus
 * is back, every copy is dropped and L1 refills from L2. When L2 recovers after the bus was
 * down, L1 is dropped too.
 *
 * Locks and rate limits go straight to L2: they must be shared across processes.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url }), namespace: 'myapp', l1: { maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 } });
 * ```
 */
export class TieredStore implements Store, SyncReadCapable {
  readonly name: string;
  private readonly lru: LRUCache<string, Copy>;
  private readonly capMs: number;
  private readonly keysByTag = new Map<string, Set<string>>();
  // Copies whose tags are unknown: every tag invalidation must reach them.
  private readonly untagged = new Set<string>();
  // Tags learnt from other instances' `set` messages, for the copies this instance reads back.
  private readonly learntTags: LRUCache<string, readonly string[]>;
  // Bumped by every invalidation, local or remote, and every bus change: a copy made from a read
  // or write that started before the bump could be older than what the bump announced.
  private epoch = 0;
  private mode: TierBusState;
  // Set when the bus went down (messages may have been missed) and cleared by the next drop of L1.
  private missed = false;
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
    this.mode = bus === undefined ? 'off' : 'down';
    this.lru = new LRUCache<string, Copy>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (copy, key) => copy.value.length + key.length,
      dispose: (copy, key) => this.unindex(key, copy),
    });
    this.learntTags = new LRUCache<string, readonly string[]>({ max: options.maxEntries });
    if (canDeletePattern(l2)) this.deletePattern = (pattern) => this.deletePatternOf(l2, pattern);
    if (canDeleteTags(l2)) {
      this.deleteTags = (tags) => this.deleteTagsOf(l2, tags);
      this.deleteTagPattern = (pattern) => this.deleteTagPatternOf(l2, pattern);
    }
    if (canLock(l2)) {
      this.acquireLock = (key, ttlMs) => l2.acquireLock(key, ttlMs);
      this.releaseLock = (key, token) => l2.releaseLock(key, token);
    }
    if (canRateLimit(l2)) this.consumeRate = (key, limits) => l2.consumeRate(key, limits);
  }

  deletePattern?: PatternCapable['deletePattern'];
  deleteTags?: TagCapable['deleteTags'];
  deleteTagPattern?: TagCapable['deleteTagPattern'];
  acquireLock?: LockCapable['acquireLock'];
  releaseLock?: LockCapable['releaseLock'];
  consumeRate?: RateLimitCapable['consumeRate'];

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

  /**
   * `true` while the store's circuit breaker is open: L2 is skipped and L1 answers what it
   * holds (those answers count as hits).
   */
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
    if (this.closed || this.mode === 'down') return READ_LATER;
    const copy = this.lru.get(key);
    return copy === undefined ? READ_LATER : { value: copy.value, softAt: undefined };
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.open();
    if (this.mode !== 'down') {
      const copy = this.lru.get(key);
      if (copy !== undefined) return copy.value;
    }
    const epoch = this.epoch;
    let bytes: Buffer | undefined;
    try {
      bytes = await this.l2.get(key);
    } catch (error) {
      // L2 unreachable: what L1 holds is the best answer there is (the degraded state).
      const copy = this.lru.get(key);
      if (copy !== undefined) return copy.value;
      throw error;
    }
    if (bytes === undefined) {
      // An open breaker answers every read as a miss without asking L2: that is not L2 saying
      // the entry is gone, so the copy still stands in.
      if (this.degraded) return this.lru.get(key)?.value;
      this.lru.delete(key);
      return undefined;
    }
    // While the bus is down the copy is kept current too: it stands in if L2 fails next.
    if (this.epoch === epoch) this.keep(key, bytes, this.learntTags.get(key), Number.POSITIVE_INFINITY);
    else this.lru.delete(key);
    return bytes;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    this.open();
    const epoch = this.epoch;
    // The older copy must not answer while the write is in flight, nor stand in if it fails.
    this.lru.delete(key);
    await this.l2.set(key, value, ttlMs, tags);
    this.learntTags.set(key, tags ?? []);
    if (this.epoch === epoch) this.keep(key, value, tags ?? [], ttlMs);
    // Not awaited: a write is answered once stored; peers only drop a copy they may not have.
    void this.publish({ kind: 'set', keys: [key], tags: tags ?? [] });
  }

  async delete(key: string): Promise<boolean> {
    this.open();
    this.epoch++;
    this.lru.delete(key);
    try {
      return await this.l2.delete(key);
    } finally {
      await this.publish({ kind: 'invalidate', keys: [key] });
    }
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

  /** The bus lost its subscription: stop trusting copies. @internal */
  busDown(): void {
    this.epoch++;
    this.mode = 'down';
    this.missed = true;
  }

  /** The bus is subscribed again: drop what may have missed a message, trust copies again. @internal */
  busUp(): void {
    this.dropAll();
    this.mode = 'up';
    if (this.owed) void this.publish({ kind: 'clear' });
  }

  /** L2's breaker closed again. @internal */
  l2Recovered(): void {
    // Invalidations issued meanwhile may have reached neither L2 nor the bus, here or elsewhere.
    if (this.missed || this.mode === 'down') this.dropAll();
    if (this.owed && this.mode === 'up') void this.publish({ kind: 'clear' });
  }

  // -------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw new StoreClosedError('TieredStore');
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
  private keep(key: string, bytes: Buffer, tags: readonly string[] | undefined, maxMs: number): void {
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
    const copy: Copy = { value, tags };
    this.lru.set(key, copy, { ttl: Math.floor(ttl) });
    // An entry larger than maxBytes is refused by the LRU: it must not be indexed either.
    if (this.lru.peek(key) === copy) this.index(key, copy);
  }

  private async deletePatternOf(l2: Store & PatternCapable, pattern: string): Promise<number> {
    this.open();
    this.epoch++;
    this.dropPattern(pattern);
    try {
      return await l2.deletePattern(pattern);
    } finally {
      await this.publish({ kind: 'invalidate', patterns: [pattern] });
    }
  }

  private async deleteTagsOf(l2: Store & TagCapable, tags: readonly string[]): Promise<number> {
    this.open();
    this.epoch++;
    this.dropTags(tags);
    try {
      return await l2.deleteTags(tags);
    } finally {
      await this.publish({ kind: 'invalidate', tags });
    }
  }

  private async deleteTagPatternOf(l2: Store & TagCapable, pattern: string): Promise<number> {
    this.open();
    this.epoch++;
    this.dropTagPattern(pattern);
    try {
      return await l2.deleteTagPattern(pattern);
    } finally {
      await this.publish({ kind: 'invalidate', tagPatterns: [pattern] });
    }
  }

  private dropAll(): void {
    this.epoch++;
    this.missed = false;
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
