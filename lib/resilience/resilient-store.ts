import { randomUUID } from 'node:crypto';
import { InvalidationPendingError, StoreClosedError, StoreUnavailableError } from '../errors';
import { escapeGlob } from '../keys';
import { LocalLocks, LocalRateLimiter } from '../stores/local-coordination';
import {
  type CapabilityForwarders,
  type CapabilityMethods,
  type GuardCapable,
  type LockCapable,
  type MarkedValue,
  type RateLimitCapable,
  type RateLimits,
  type SoftCapable,
  type Store,
  type SyncReadCapable,
  READ_LATER,
  canDeletePattern,
  canDeleteTags,
  canLock,
  canRateLimit,
  canSoftInvalidate,
  forwardCapabilities,
} from '../stores/store';
import { type BreakerSettings, CircuitBreaker, type FailureKind } from './breaker';
import { INVALIDATION_OPERATIONS, type Invalidation, InvalidationJournal, applyInvalidation } from './journal';
import type { FallbackMode } from './options';

/** Settings of the resilience wrapper. @internal */
export interface ResilienceSettings extends BreakerSettings {
  journalLimit: number;
  fallbackMode: FallbackMode;
  /** A key the background probe may read and write (the cache's namespace + `__probe__`). */
  probeKey: string;
  /**
   * The cache's namespace (`''` or ending in `:`): what an overflowing journal invalidates as a
   * whole (everything the store holds without one).
   */
  namespace: string;
}

/**
 * What the wrapper tells its owner (the Cache turns these into events). Every store failure the
 * wrapper absorbs is reported here exactly once; a failure it lets through to the caller (an
 * invalidation while the breaker is closed, a closed store) is not, so the caller reports it.
 * @internal
 */
export interface ResilienceHooks {
  error(error: Error, operation: string, key: string | undefined): void;
  degraded(error: Error): void;
  recovered(downtimeMs: number): void;
}

const PROBE_VALUE = Buffer.from('1');
const PROBE_TTL_MS = 1_000;

/**
 * Fallback routing around a primary store, with a {@link CircuitBreaker} and an
 * {@link InvalidationJournal}. It has exactly the capabilities of its primary.
 *
 * - Closed: operations go to the primary (in `mirror` mode, writes and invalidations go to the
 *   fallback too). A failure counts toward the breaker. A failed read or write is answered by the
 *   fallback (and reported here); without one it is thrown to the caller, which reports it. A
 *   failed lock or limiter call is answered by a stand-in and reported here. A failed
 *   invalidation, the first included, is journaled, applied to the fallback, and opens the
 *   breaker at once: the primary may still hold what it covers, so it serves no read until the
 *   journal is replayed. The caller gets an `InvalidationPendingError` (with the store's error as
 *   `cause`) and reports it.
 * - Open: the primary is not touched. Reads and writes go to the fallback, or are a miss and a
 *   skipped write; locks and the limiter use the fallback's, or in-process stand-ins;
 *   invalidations go to the fallback and the journal (and reject with `InvalidationPendingError`).
 * - A background probe (a read, or a write when writes were failing) finds the primary usable
 *   again; the journal is replayed on it (so nothing invalidated during the outage comes back),
 *   an `outage` fallback is cleared (its entries never saw other instances' invalidations), and
 *   the breaker closes (`recovered`).
 * @internal
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ResilientStore implements Store {
  readonly name: string;
  private readonly breaker: CircuitBreaker;
  private readonly journal: InvalidationJournal;
  private readonly mirror: boolean;
  private readonly localLocks = new LocalLocks();
  private readonly localRates = new LocalRateLimiter();
  // Lock tokens handed out by a stand-in, so the release goes where the lock is.
  private readonly standInTokens = new Map<string, Store | LocalLocks>();
  private closed = false;

  constructor(
    readonly primary: Store,
    readonly fallback: Store | undefined,
    private readonly settings: ResilienceSettings,
    private readonly hooks: ResilienceHooks,
  ) {
    this.name = primary.name;
    this.mirror = fallback !== undefined && settings.fallbackMode === 'mirror';
    this.breaker = new CircuitBreaker(settings, (kind) => this.probe(kind));
    this.journal = new InvalidationJournal(settings.journalLimit, (store) => this.clearNamespace(store));
    forwardCapabilities(this, primary, this.forwarders());
  }

  /** Exactly the primary's capabilities, each routed by the breaker like the core methods. */
  private forwarders(): CapabilityForwarders {
    return {
      pattern: (primary) => ({ deletePattern: (pattern) => this.invalidate({ kind: 'pattern', pattern }, () => primary.deletePattern(pattern)) }),
      tags: (primary) => ({
        deleteTags: (tags) => this.invalidate({ kind: 'tags', tags }, () => primary.deleteTags(tags)),
        deleteTagPattern: (pattern) => this.invalidate({ kind: 'tagPattern', pattern }, () => primary.deleteTagPattern(pattern)),
      }),
      lock: (primary) => ({
        acquireLock: (key, ttlMs) => this.acquire(primary, key, ttlMs),
        releaseLock: (key, token) => this.release(primary, key, token),
      }),
      rate: (primary) => ({ consumeRate: (key, limits) => this.rate(primary, key, limits) }),
      prune: (primary) => ({
        prune: () => this.maintenance('prune', () => primary.prune()),
        inspect: (options) => this.maintenance('inspect', () => primary.inspect(options)),
      }),
      guard: (primary) => this.guardOf(primary),
      soft: (primary) => this.softOf(primary),
      stale: (primary) => ({ isStale: (key) => this.maintenance('isStale', () => primary.isStale(key)) }),
      readNow: (primary) => ({ readNow: (key) => this.readNowOf(primary, key) }),
    };
  }

  /**
   * A same-tick read of a healthy primary. Everything else (an open breaker, a failure, a closed
   * wrapper) is left to the asynchronous read, which owns fallback routing and reporting.
   */
  private readNowOf(primary: SyncReadCapable, key: string): ReturnType<SyncReadCapable['readNow']> {
    if (this.closed || this.breaker.isOpen) return READ_LATER;
    let found: ReturnType<SyncReadCapable['readNow']>;
    try {
      found = primary.readNow(key);
    } catch {
      return READ_LATER;
    }
    if (found !== READ_LATER) this.breaker.success('read');
    return found;
  }

  /**
   * The cross-process write guard follows the primary only: while it is down, the journal and
   * the fallback's own invalidations keep old writes out, so stamps are skipped and a guarded
   * write goes to the fallback as a plain one.
   */
  private guardOf(primary: Store & GuardCapable): GuardCapable {
    const stampInvalidations: GuardCapable['stampInvalidations'] = async (names, atMs, ttlMs) => {
      this.ensureOpen();
      if (this.breaker.isOpen) return;
      try {
        await primary.stampInvalidations(names, atMs, ttlMs);
        this.breaker.success('write');
      } catch (error) {
        this.failed(error, 'write', 'stampInvalidations', names[0], false);
      }
    };
    // Like `set`, a write the open breaker skips (no fallback) resolves as done: `false` would
    // tell the engine an invalidation overtook the load.
    const onFallback = (key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined): Promise<boolean> =>
      this.onFallback('set', key, async (store) => {
        await store.set(key, value, ttlMs, tags);
        return true;
      }, true);
    const setUnlessInvalidated: GuardCapable['setUnlessInvalidated'] = async (key, value, ttlMs, tags, names, sinceMs) => {
      this.ensureOpen();
      if (this.breaker.isOpen) return onFallback(key, value, ttlMs, tags);
      const mirrored = this.mirror ? onFallback(key, value, ttlMs, tags) : undefined;
      mirrored?.catch(() => undefined);
      try {
        const written = await primary.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs);
        this.breaker.success('write');
        if (mirrored) {
          await mirrored;
          // The mirror took the write before the guard refused it: it must not answer with it
          // once the primary fails (a miss there is safe, an old answer is not).
          if (!written) await this.onFallback('delete', key, (store) => store.delete(key), false);
        }
        return written;
      } catch (error) {
        this.failed(error, 'write', 'set', key, this.fallback !== undefined);
        return mirrored ?? onFallback(key, value, ttlMs, tags);
      }
    };
    return { stampInvalidations, setUnlessInvalidated };
  }

  /** Soft invalidations, journalled (and applied to the fallback) as their hard form: the safe side. */
  private softOf(primary: Store & SoftCapable): SoftCapable {
    const getWithMark: SoftCapable['getWithMark'] = async (key) => {
      this.ensureOpen();
      if (!this.breaker.isOpen) {
        try {
          const found = await primary.getWithMark(key);
          this.breaker.success('read');
          return found;
        } catch (error) {
          this.failed(error, 'read', 'get', key, this.fallback !== undefined);
        }
      }
      return this.onFallback<MarkedValue | undefined>('get', key, async (store) => {
        if (canSoftInvalidate(store)) return store.getWithMark(key);
        const value = await store.get(key);
        return value === undefined ? undefined : { value, softAt: undefined };
      }, undefined);
    };
    return {
      getWithMark,
      softDelete: async (key, atMs) => (await this.invalidate({ kind: 'delete', key }, async () => ((await primary.softDelete(key, atMs)) ? 1 : 0))) > 0,
      softDeletePattern: (pattern, atMs) => this.invalidate({ kind: 'pattern', pattern }, () => primary.softDeletePattern(pattern, atMs)),
      softDeleteTags: (tags, atMs) => this.invalidate({ kind: 'tags', tags }, () => primary.softDeleteTags(tags, atMs)),
      softDeleteTagPattern: (pattern, atMs) => this.invalidate({ kind: 'tagPattern', pattern }, () => primary.softDeleteTagPattern(pattern, atMs)),
    };
  }

  /**
   * Maintenance calls (prune, inspect, isStale) go to the primary while it is trusted; a failure
   * counts toward the breaker and reaches the caller. While open they reject: a fallback's
   * answer would describe another store.
   */
  private async maintenance<T>(operation: string, run: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    if (this.breaker.isOpen) throw new StoreUnavailableError(operation);
    try {
      const result = await run();
      this.breaker.success('read');
      return result;
    } catch (error) {
      this.failed(error, 'read', operation, undefined, false);
      throw error;
    }
  }

  /** True while the breaker is open (the primary is being skipped). */
  get degraded(): boolean {
    return this.breaker.isOpen;
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.ensureOpen();
    if (!this.breaker.isOpen) {
      try {
        const value = await this.primary.get(key);
        this.breaker.success('read');
        return value;
      } catch (error) {
        // Without a fallback there is nothing to answer with: the caller gets the failure (and
        // reports it, once); with one, the failure is absorbed and reported here.
        this.failed(error, 'read', 'get', key, this.fallback !== undefined);
      }
    }
    return this.onFallback('get', key, (store) => store.get(key), undefined);
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    this.ensureOpen();
    if (!this.breaker.isOpen) {
      const mirrored = this.mirror ? this.onFallback('set', key, (store) => store.set(key, value, ttlMs, tags), undefined) : undefined;
      // Awaited below on every path but a closed primary; never left unhandled.
      mirrored?.catch(() => undefined);
      try {
        await this.primary.set(key, value, ttlMs, tags);
        this.breaker.success('write');
      } catch (error) {
        this.failed(error, 'write', 'set', key, this.fallback !== undefined);
        if (mirrored) return mirrored;
        return this.onFallback('set', key, (store) => store.set(key, value, ttlMs, tags), undefined);
      }
      return mirrored;
    }
    return this.onFallback('set', key, (store) => store.set(key, value, ttlMs, tags), undefined);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.invalidate({ kind: 'delete', key }, async () => ((await this.primary.delete(key)) ? 1 : 0))) > 0;
  }

  async clear(): Promise<void> {
    await this.invalidate({ kind: 'clear' }, async () => {
      await this.primary.clear();
      return 0;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.breaker.stop();
    await Promise.all([this.primary.close(), this.fallback?.close()]);
  }

  // -------------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new StoreClosedError(`store "${this.name}"`);
  }

  /**
   * Counts a primary failure toward the breaker. When `absorbed` (the wrapper answers in its
   * place) it is reported here; otherwise it is thrown, unreported, for the caller to report:
   * either way exactly once.
   */
  private failed(error: unknown, kind: FailureKind, operation: string, key: string | undefined, absorbed = true): void {
    const err = toError(error);
    // The primary was closed under us: that is the caller's doing, not an outage.
    if (err instanceof StoreClosedError) throw err;
    // Counted before it is reported: the outage is timed from the breaker's first failure.
    const opened = this.breaker.failure(kind, err);
    if (absorbed) this.hooks.error(err, operation, key);
    if (opened) this.hooks.degraded(err);
    if (!absorbed) throw err;
  }

  /** Runs `run` on the fallback; its failure is reported and answered with `otherwise`. */
  private async onFallback<T>(operation: string, key: string | undefined, run: (store: Store) => Promise<T>, otherwise: T): Promise<T> {
    if (this.fallback === undefined) return otherwise;
    try {
      return await run(this.fallback);
    } catch (error) {
      const err = toError(error);
      if (err instanceof StoreClosedError) throw err;
      this.hooks.error(err, `fallback.${operation}`, key);
      return otherwise;
    }
  }

  private async invalidate(record: Invalidation, onPrimary: () => Promise<number>): Promise<number> {
    this.ensureOpen();
    const operation = INVALIDATION_OPERATIONS[record.kind];
    const key = record.kind === 'delete' ? record.key : undefined;
    let cause: Error = new StoreUnavailableError(operation);
    if (!this.breaker.isOpen) {
      try {
        const count = await onPrimary();
        this.breaker.success('write');
        // A fallback may hold entries written while the primary failed (or every entry, mirrored).
        await this.onFallback(operation, key, (store) => applyInvalidation(store, record), 0);
        return count;
      } catch (error) {
        cause = toError(error);
        if (cause instanceof StoreClosedError) throw cause;
        // Even the first failure opens the breaker: the primary may still hold what this
        // invalidation covers, so it must serve no read until the journal is replayed on it.
        const opened = this.breaker.failure('write') || this.breaker.trip('write');
        if (opened) this.hooks.degraded(cause);
      }
    }
    this.journal.record(record);
    const removed = await this.onFallback(operation, key, (store) => applyInvalidation(store, record), 0);
    throw new InvalidationPendingError(operation, removed, { cause });
  }

  /** What an overflowing journal replays: the cache's whole namespace (or the whole store). */
  private async clearNamespace(store: Store): Promise<void> {
    const { namespace } = this.settings;
    if (namespace === '' || !canDeletePattern(store)) {
      await store.clear();
      return;
    }
    const everything = `${escapeGlob(namespace)}*`;
    await store.deletePattern(everything);
    if (canDeleteTags(store)) await store.deleteTagPattern(everything);
  }

  private async acquire(primary: LockCapable, key: string, ttlMs: number): Promise<string | undefined> {
    this.ensureOpen();
    if (!this.breaker.isOpen) {
      try {
        const token = await primary.acquireLock(key, ttlMs);
        this.breaker.success('write');
        return token;
      } catch (error) {
        this.failed(error, 'write', 'acquireLock', key);
      }
    }
    // While the primary is out, the fallback's lock (or an in-process one) stands in: coalescing
    // within this process is still worth having.
    const { fallback } = this;
    if (fallback !== undefined && canLock(fallback)) {
      const token = await this.onFallback('acquireLock', key, (store) => (store as Store & LockCapable).acquireLock(key, ttlMs), undefined);
      if (token !== undefined) this.standInTokens.set(token, fallback);
      return token;
    }
    const token = this.localLocks.acquire(key, ttlMs, randomUUID());
    if (token !== undefined) this.standInTokens.set(token, this.localLocks);
    return token;
  }

  private async release(primary: LockCapable, key: string, token: string): Promise<void> {
    this.ensureOpen();
    const standIn = this.standInTokens.get(token);
    if (standIn !== undefined) {
      this.standInTokens.delete(token);
      if (standIn instanceof LocalLocks) return standIn.release(key, token);
      return this.onFallback('releaseLock', key, (store) => (store as Store & LockCapable).releaseLock(key, token), undefined);
    }
    // A lock taken on the primary before it went away expires there by itself.
    if (this.breaker.isOpen) return;
    try {
      await primary.releaseLock(key, token);
      this.breaker.success('write');
    } catch (error) {
      this.failed(error, 'write', 'releaseLock', key);
    }
  }

  private async rate(primary: RateLimitCapable, key: string, limits: RateLimits): Promise<number> {
    this.ensureOpen();
    if (!this.breaker.isOpen) {
      try {
        const wait = await primary.consumeRate(key, limits);
        this.breaker.success('write');
        return wait;
      } catch (error) {
        this.failed(error, 'write', 'consumeRate', key);
      }
    }
    // Better per-process limits than none while the shared limiter is out.
    const { fallback } = this;
    if (fallback !== undefined && canRateLimit(fallback)) {
      return this.onFallback('consumeRate', key, (store) => (store as Store & RateLimitCapable).consumeRate(key, limits), 0);
    }
    return this.localRates.consume(key, limits, Date.now());
  }

  /**
   * The background probe: the failing kind of operation on a reserved key, then the journal
   * replay, then (in the same tick as the replay's end, so no invalidation slips in between)
   * the breaker closes. A failed probe is not reported: `degraded` already said the store is out.
   */
  private async probe(kind: FailureKind): Promise<void> {
    if (this.closed) return;
    try {
      if (kind === 'write') await this.primary.set(this.settings.probeKey, PROBE_VALUE, PROBE_TTL_MS);
      else await this.primary.get(this.settings.probeKey);
    } catch {
      return;
    }
    try {
      await this.journal.replay(this.primary);
      if (!this.mirror) await this.fallback?.clear();
      // Whatever was recorded meanwhile must reach the primary too; the check and the close below
      // run in one synchronous step, so nothing can be recorded in between.
      while (!this.journal.empty) await this.journal.replay(this.primary);
    } catch (error) {
      this.hooks.error(toError(error), 'recover', undefined);
      return;
    }
    if (this.closed) return;
    this.hooks.recovered(this.breaker.close());
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

// Capabilities are own properties, present exactly when the primary has them.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ResilientStore extends Partial<CapabilityMethods> {}
