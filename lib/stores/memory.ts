import { LRUCache } from 'lru-cache';
import { StoreClosedError } from '../errors';
import { globToRegExp } from '../keys';
import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './memory-options';
import { randomUUID } from 'node:crypto';
import type { RateLimits, Store } from './store';
import { LocalLocks, LocalRateLimiter } from './local-coordination';

/**
 * An in-process LRU store on `lru-cache`, bounded by entry count and by bytes. It is the default
 * store and needs nothing installed; entries live as long as the process.
 *
 * Tags are two in-process maps (tag → keys, key → tags) pruned whenever an entry leaves the LRU
 * (delete, eviction, expiry, overwrite), so they stay bounded by `maxEntries`.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new MemoryStore({ maxEntries: 50_000, maxBytes: 128 * 1024 * 1024 }) });
 * ```
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  private readonly lru: LRUCache<string, Buffer>;
  private readonly keysByTag = new Map<string, Set<string>>();
  private readonly tagsByKey = new Map<string, readonly string[]>();
  private closed = false;
  private readonly locks = new LocalLocks();
  private readonly rates = new LocalRateLimiter();

  constructor(options: MemoryStoreOptions = {}) {
    const resolved = resolveMemoryStoreOptions(options);
    this.lru = new LRUCache<string, Buffer>({
      max: resolved.maxEntries,
      maxSize: resolved.maxBytes,
      // Keys count too: a million tiny entries under long keys is still a million long keys.
      sizeCalculation: (value, key) => value.length + key.length,
      // Called synchronously whenever an entry leaves (or is overwritten), so no index outlives it.
      dispose: (_value, key) => this.unindex(key),
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

  async clear(): Promise<void> {
    this.open();
    this.lru.clear();
    this.keysByTag.clear();
    this.tagsByKey.clear();
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    this.open();
    return this.locks.acquire(key, ttlMs, randomUUID());
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
