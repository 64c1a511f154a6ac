import { LRUCache } from 'lru-cache';
import { StoreClosedError } from '../errors';
import { globToRegExp } from '../keys';
import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './memory-options';
import { type GuardCapable, type MarkedValue, READ_LATER, type RateLimits, type SoftCapable, type Store, type SyncReadCapable } from './store';
import { LocalLocks, LocalRateLimiter } from './local-coordination';

/** How many invalidation stamps a MemoryStore remembers (the oldest are forgotten first). */
export const MEMORY_STAMP_LIMIT = 100_000;

/**
 * An in-process LRU store on `lru-cache`, bounded by entry count and by bytes. It is the default
 * store and needs nothing installed; entries live as long as the process.
 *
 * Tags are two in-process maps (tag → keys, key → tags) pruned whenever an entry leaves the LRU
 * (delete, eviction, expiry, overwrite), so they stay bounded by `maxEntries`.
 *
 * Soft marks are one more map pruned the same way; invalidation stamps (the write guard shared
 * by every `Cache` on this store) are a small LRU of their own, bounded at
 * {@link MEMORY_STAMP_LIMIT} names (a forgotten stamp weakens only the guard between two caches
 * on one store; each cache's in-process log still holds).
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new MemoryStore({ maxEntries: 50_000, maxBytes: 128 * 1024 * 1024 }) });
 * ```
 */
export class MemoryStore implements Store, GuardCapable, SoftCapable, SyncReadCapable {
  readonly name = 'memory';
  private readonly lru: LRUCache<string, Buffer>;
  private readonly keysByTag = new Map<string, Set<string>>();
  private readonly tagsByKey = new Map<string, readonly string[]>();
  private closed = false;
  private readonly locks = new LocalLocks();
  private lockTokens = 0;
  private readonly rates = new LocalRateLimiter();
  private readonly softMarks = new Map<string, number>();
  private readonly stamps = new LRUCache<string, number>({ max: MEMORY_STAMP_LIMIT, ttlAutopurge: false, ttlResolution: 0 });

  constructor(options: MemoryStoreOptions = {}) {
    const resolved = resolveMemoryStoreOptions(options);
    this.lru = new LRUCache<string, Buffer>({
      max: resolved.maxEntries,
      maxSize: resolved.maxBytes,
      // Keys count too: a million tiny entries under long keys is still a million long keys.
      sizeCalculation: (value, key) => value.length + key.length,
      // Called synchronously whenever an entry leaves (or is overwritten), so no index outlives it.
      dispose: (_value, key) => this.unindex(key),
      // Read the clock on each TTL check. lru-cache's default keeps a reading for 1 ms and
      // schedules a timer to drop it, so a busy hit path started thousands of timers a second.
      ttlResolution: 0,
    });
  }

  /** How many entries are held (expired ones included until they are touched or evicted). */
  get size(): number {
    return this.lru.size;
  }

  /** The bytes accounted for by the entries held, as counted against `maxBytes`. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /**
   * Up to `limit` live entries as key, size in bytes and remaining TTL in ms (most recently used
   * first), for the dashboard and other inspection views. Reads nothing into the LRU order.
   *
   * @example
   * ```ts
   * for (const { key, bytes } of store.listEntries(100)) console.log(key, bytes);
   * ```
   */
  listEntries(limit: number): Array<{ key: string; bytes: number; ttlMs: number }> {
    this.open();
    const listed: Array<{ key: string; bytes: number; ttlMs: number }> = [];
    for (const [key, value] of this.lru.entries()) {
      if (listed.length >= limit) break;
      listed.push({ key, bytes: value.length, ttlMs: this.lru.getRemainingTTL(key) });
    }
    return listed;
  }

  private open(): void {
    if (this.closed) throw new StoreClosedError('MemoryStore');
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.open();
    return this.lru.get(key);
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    this.open();
    // lru-cache copies nothing, and callers may reuse their buffer: keep our own copy.
    const copy = Buffer.from(value);
    this.lru.set(key, copy, { ttl: Math.max(1, Math.ceil(ttlMs)) });
    // An entry larger than maxBytes is refused by the LRU: it must not be indexed either.
    if (tags !== undefined && tags.length > 0 && this.lru.peek(key) === copy) this.index(key, tags);
  }

  async delete(key: string): Promise<boolean> {
    this.open();
    return this.lru.delete(key);
  }

  async deletePattern(pattern: string): Promise<number> {
    this.open();
    const matcher = globToRegExp(pattern);
    let removed = 0;
    // Collect first: deleting while iterating the LRU's linked list would skip entries.
    const matched = [...this.lru.keys()].filter((key) => matcher.test(key));
    for (const key of matched) {
      const live = this.lru.has(key);
      if (this.lru.delete(key) && live) removed++;
    }
    return removed;
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    this.open();
    let removed = 0;
    for (const tag of tags) removed += this.deleteTag(tag);
    return removed;
  }

  async deleteTagPattern(pattern: string): Promise<number> {
    this.open();
    const matcher = globToRegExp(pattern);
    let removed = 0;
    for (const tag of [...this.keysByTag.keys()].filter((name) => matcher.test(name))) removed += this.deleteTag(tag);
    return removed;
  }

  async getWithMark(key: string): Promise<MarkedValue | undefined> {
    this.open();
    const value = this.lru.get(key);
    return value === undefined ? undefined : { value, softAt: this.softMarks.get(key) };
  }

  /** {@link getWithMark} in the same tick (a closed store answers through the rejecting path). @internal */
  readNow(key: string): MarkedValue | undefined | typeof READ_LATER {
    if (this.closed) return READ_LATER;
    const value = this.lru.get(key);
    return value === undefined ? undefined : { value, softAt: this.softMarks.get(key) };
  }

  async softDelete(key: string, atMs: number): Promise<boolean> {
    this.open();
    return this.mark(key, atMs);
  }

  async softDeletePattern(pattern: string, atMs: number): Promise<number> {
    this.open();
    const matcher = globToRegExp(pattern);
    let marked = 0;
    for (const key of [...this.lru.keys()]) if (matcher.test(key) && this.mark(key, atMs)) marked++;
    return marked;
  }

  async softDeleteTags(tags: readonly string[], atMs: number): Promise<number> {
    this.open();
    let marked = 0;
    for (const tag of new Set(tags)) for (const key of this.keysByTag.get(tag) ?? []) if (this.mark(key, atMs)) marked++;
    return marked;
  }

  async softDeleteTagPattern(pattern: string, atMs: number): Promise<number> {
    this.open();
    const matcher = globToRegExp(pattern);
    const tags = [...this.keysByTag.keys()].filter((name) => matcher.test(name));
    return this.softDeleteTags(tags, atMs);
  }

  async stampInvalidations(names: readonly string[], atMs: number, ttlMs: number): Promise<void> {
    this.open();
    for (const name of names) this.stamps.set(name, Math.max(atMs, this.stamps.get(name) ?? 0), { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  async setUnlessInvalidated(key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined, names: readonly string[], sinceMs: number): Promise<boolean> {
    this.open();
    // Synchronous from the check to the write: nothing can run in between.
    if (names.some((name) => (this.stamps.get(name) ?? Number.NEGATIVE_INFINITY) > sinceMs)) return false;
    await this.set(key, value, ttlMs, tags);
    return true;
  }

  async clear(): Promise<void> {
    this.open();
    this.lru.clear();
    this.keysByTag.clear();
    this.tagsByKey.clear();
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    this.open();
    // The locks live in this object, so a token only has to differ from every other token this
    // store hands out: a counter does, without randomUUID's cost on every miss.
    return this.locks.acquire(key, ttlMs, `t${++this.lockTokens}`);
  }

  async releaseLock(key: string, token: string): Promise<void> {
    this.open();
    this.locks.release(key, token);
  }

  async consumeRate(key: string, limits: RateLimits): Promise<number> {
    this.open();
    return this.rates.consume(key, limits, Date.now());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lru.clear();
    this.keysByTag.clear();
    this.tagsByKey.clear();
    this.softMarks.clear();
    this.stamps.clear();
  }

  /** Marks a live entry stale as of `atMs`; the mark leaves with the entry (see unindex). */
  private mark(key: string, atMs: number): boolean {
    if (!this.lru.has(key)) return false;
    this.softMarks.set(key, atMs);
    return true;
  }

  private deleteTag(tag: string): number {
    const keys = this.keysByTag.get(tag);
    if (keys === undefined) return 0;
    let removed = 0;
    // Copy first: each delete prunes this very set through the dispose callback.
    for (const key of [...keys]) {
      const live = this.lru.has(key);
      if (this.lru.delete(key) && live) removed++;
    }
    this.keysByTag.delete(tag);
    return removed;
  }

  private index(key: string, tags: readonly string[]): void {
    const unique = [...new Set(tags)];
    this.tagsByKey.set(key, unique);
    for (const tag of unique) {
      let keys = this.keysByTag.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.keysByTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  private unindex(key: string): void {
    this.softMarks.delete(key);
    const tags = this.tagsByKey.get(key);
    if (tags === undefined) return;
    this.tagsByKey.delete(key);
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.keysByTag.delete(tag);
    }
  }
}
