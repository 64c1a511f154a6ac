import { traceLookup } from '../metrics/tracing';
import { type Entry, decodeEntry, encodeEntry } from '../serializer';
import { type GuardCapable, type SoftCapable, type Store, canGuardWrites, canSoftInvalidate } from '../stores/store';
import type { Invalidator } from './invalidate';

/** An entry found by `Cache.lookup`, with whether it is past its TTL. */
export interface Lookup<E extends Entry = Entry> {
  entry: E;
  /** `true` when the entry is past its TTL but within the grace window asked for. */
  stale: boolean;
}

/** How a write ended: stored, refused because an invalidation overtook it, or failed in the store. */
export type WriteOutcome = 'stored' | 'invalidated' | 'failed';

/** What entry reads and writes need from the cache. @internal */
export interface EntriesHost {
  store: Store;
  namespace: string;
  invalidator: Invalidator;
  emitSet(key: string, ttlSeconds: number): void;
  reportError(error: unknown, operation: string, key: string | undefined): void;
}

/** A Vary variant key of `cacheResponse`: `{base key}:v:{sha1 of the selecting headers}`. */
const VARIANT_KEY = /^(.*):v:[0-9a-f]{40}$/s;

/**
 * Entries in and out of the store: decoding (once per in-process buffer), soft marks, the
 * grace window, and the generation-guarded write. Store failures and corrupt bytes are misses
 * and skipped writes, reported as `error` events; nothing here rejects.
 * @internal
 */
export class Entries {
  private readonly decoded = new WeakMap<Buffer, Entry>();
  // The store stack never changes: its capabilities are looked up once.
  private readonly marked: (Store & SoftCapable) | undefined;
  private readonly guarded: (Store & GuardCapable) | undefined;

  constructor(private readonly host: EntriesHost) {
    this.marked = canSoftInvalidate(host.store) ? host.store : undefined;
    this.guarded = canGuardWrites(host.store) ? host.store : undefined;
  }

  /** Reads and decodes an entry, traced on `express-cache-kit:lookup` when anyone listens. */
  read(fullKey: string, graceMs: number): Promise<Lookup | undefined> {
    return traceLookup(fullKey, undefined, () => this.readStore(fullKey, graceMs));
  }

  /** What stored bytes mean now: fresh, stale within `graceMs`, or nothing (expired, corrupt). */
  lookupOf(fullKey: string, bytes: Buffer, softAt: number | undefined, graceMs: number): Lookup | undefined {
    let entry = this.decoded.get(bytes);
    if (entry === undefined) {
      try {
        entry = decodeEntry(bytes);
      } catch (error) {
        this.host.reportError(error, 'decode', fullKey);
        // Drop the unreadable bytes so the next request stores a good entry.
        this.host.store.delete(fullKey).catch(() => undefined);
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

  /**
   * Stores `entry` unless an invalidation touching it began after `generation` (here, or in
   * another process: the store's stamps). The store keeps it `graceMs` past its TTL.
   */
  async write(fullKey: string, entry: Entry, ttlSeconds: number, fullTags: readonly string[] | undefined, generation: number | undefined, graceMs = 0): Promise<WriteOutcome> {
    const { log } = this.host.invalidator;
    // Checked synchronously right before the store call: an invalidation starting later issues
    // its commands after this write, so it removes what we store.
    if (generation !== undefined && log.invalidatedSince(generation, fullKey, fullTags)) return 'invalidated';
    const issuedAt = log.generation;
    // Dated no earlier than the latest invalidation here: what reaches the store now was loaded
    // after it (an older load was refused just above), so no soft mark of it may apply.
    // The lifetime is kept: the entry moves by those few milliseconds as a whole.
    if (entry.createdAt < issuedAt) entry = { ...entry, createdAt: issuedAt, expiresAt: entry.expiresAt + (issuedAt - entry.createdAt) };
    const store = this.host.store;
    const ttlMs = ttlSeconds * 1000 + graceMs;
    const variantOf = VARIANT_KEY.exec(fullKey);
    const tags = variantOf?.[1] === undefined ? fullTags : [...(fullTags ?? []), this.host.invalidator.variantTag(variantOf[1])];
    try {
      if (generation !== undefined && this.guarded !== undefined) {
        // Other processes' invalidations: refused when one stamped this entry since the load began.
        const names = this.host.invalidator.guardNames(fullKey, fullTags);
        if (!(await this.guarded.setUnlessInvalidated(fullKey, encodeEntry(entry), ttlMs, tags, names, generation))) return 'invalidated';
      } else {
        await store.set(fullKey, encodeEntry(entry), ttlMs, tags);
      }
    } catch (error) {
      this.host.reportError(error, 'set', fullKey);
      return 'failed';
    }
    if (generation !== undefined && log.invalidatedSince(issuedAt, fullKey, fullTags)) {
      // An invalidation began while the write was in flight. Where a tagged write is several
      // commands (Redis Cluster) it may have slipped between them, so remove the entry ourselves.
      try {
        await store.delete(fullKey);
      } catch (error) {
        this.host.reportError(error, 'delete', fullKey);
      }
      return 'invalidated';
    }
    this.host.emitSet(fullKey, ttlSeconds);
    return 'stored';
  }

  /** Reads and decodes an entry; store failures and corrupt bytes are misses (and `error` events). */
  private async readStore(fullKey: string, graceMs: number): Promise<Lookup | undefined> {
    let bytes: Buffer | undefined;
    let softAt: number | undefined;
    const store = this.host.store;
    try {
      if (this.marked !== undefined) {
        // The entry and its soft mark in one round trip (one MGET on Redis).
        const marked = await this.marked.getWithMark(fullKey);
        bytes = marked?.value;
        softAt = marked?.softAt;
      } else {
        bytes = await store.get(fullKey);
      }
    } catch (error) {
      this.host.reportError(error, 'get', fullKey);
      return undefined;
    }
    return bytes === undefined ? undefined : this.lookupOf(fullKey, bytes, softAt, graceMs);
  }
}
