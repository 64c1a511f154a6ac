import { StoreClosedError, StoreUnavailableError } from '../errors';
import { type FullStore, type MarkedValue, type RateLimits, type Store, canGuardWrites, canLock, canRateLimit, canSoftInvalidate } from '../stores/store';
import { REPORTED } from './reported';

/** How the circuit breaker behaves. */
export interface BreakerSettings {
  failureThreshold: number;
  coolDownMs: number;
  journalLimit: number;
}

/** What the wrapper tells its owner (the Cache turns these into events). @internal */
export interface ResilienceHooks {
  error(error: Error, operation: string, key: string | undefined): void;
  degraded(error: Error): void;
  recovered(downtimeMs: number): void;
}

type Invalidation =
  | { kind: 'delete'; key: string }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'tags'; tags: readonly string[] }
  | { kind: 'tagPattern'; pattern: string }
  | { kind: 'clear' };

/**
 * Wraps the primary store with a circuit breaker and an optional fallback store.
 *
 * - Closed: operations go to the primary. Each failure is reported; `failureThreshold`
 *   consecutive failures open the breaker (`degraded`).
 * - Open: the primary is not touched for `coolDownMs`. Reads and writes go to the fallback, or
 *   are skipped (a miss) without one. Invalidations are applied to the fallback and written to
 *   a journal.
 * - Then one probe operation goes to the primary. When it succeeds the journal is replayed on
 *   the primary (so nothing invalidated during the outage comes back), the fallback is cleared
 *   (its entries were never invalidated by other instances), and the breaker closes
 *   (`recovered`). A journal that overflowed `journalLimit` is replaced by clearing the primary.
 * @internal
 */
export class ResilientStore implements Store {
  readonly name: string;
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;
  private journal: Invalidation[] = [];
  private journalOverflow = false;

  constructor(
    readonly primary: FullStore,
    readonly fallback: FullStore | undefined,
    private readonly settings: BreakerSettings,
    private readonly hooks: ResilienceHooks,
  ) {
    this.name = primary.name;
    if (canLock(primary)) {
      this.acquireLock = (key, ttlMs) => this.coordinate('acquireLock', key, () => primary.acquireLock(key, ttlMs), undefined);
      this.releaseLock = (key, token) => this.coordinate('releaseLock', key, () => primary.releaseLock(key, token), undefined);
    }
    this.forwardInvalidationCapabilities(primary, fallback);
    if (canRateLimit(primary)) {
      // While degraded, the fallback's (per-process) limiter stands in: better local limits than none.
      this.consumeRate = (key, limits) =>
        this.coordinate('consumeRate', key, () => primary.consumeRate(key, limits), () =>
          fallback !== undefined && canRateLimit(fallback) ? fallback.consumeRate(key, limits) : Promise.resolve(0),
        );
    }
  }

  acquireLock?: (key: string, ttlMs: number) => Promise<string | undefined>;
  stampInvalidations?: (names: readonly string[], atMs: number, ttlMs: number) => Promise<void>;
  setUnlessInvalidated?: (key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined, names: readonly string[], sinceMs: number) => Promise<boolean>;
  getWithMark?: (key: string) => Promise<MarkedValue | undefined>;
  softDelete?: (key: string, atMs: number) => Promise<boolean>;
  softDeletePattern?: (pattern: string, atMs: number) => Promise<number>;
  softDeleteTags?: (tags: readonly string[], atMs: number) => Promise<number>;
  softDeleteTagPattern?: (pattern: string, atMs: number) => Promise<number>;
  releaseLock?: (key: string, token: string) => Promise<void>;
  consumeRate?: (key: string, limits: RateLimits) => Promise<number>;

  /**
   * Forwards the write guard and soft invalidation (issue 12). Stamps follow the primary only:
   * while it is down the journal and the fallback's clear on recovery keep old writes out. Soft
   * invalidations are journalled as their hard form (replaying them hard is the safe side).
   */
  private forwardInvalidationCapabilities(primary: FullStore, fallback: Store | undefined): void {
    if (canGuardWrites(primary)) {
      this.stampInvalidations = (names, atMs, ttlMs) =>
        this.coordinate('stampInvalidations', names[0] ?? '', () => primary.stampInvalidations(names, atMs, ttlMs), () => Promise.resolve());
      this.setUnlessInvalidated = (key, value, ttlMs, tags, names, sinceMs) =>
        this.coordinate(
          'set',
          key,
          () => primary.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs),
          fallback &&
            (() => (canGuardWrites(fallback) ? fallback.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs) : fallback.set(key, value, ttlMs, tags).then(() => true))),
        );
    }
    if (canSoftInvalidate(primary)) {
      this.getWithMark = (key) =>
        this.coordinate(
          'get',
          key,
          () => primary.getWithMark(key),
          fallback &&
            (() => (canSoftInvalidate(fallback) ? fallback.getWithMark(key) : fallback.get(key).then((value) => value && { value, softAt: undefined }))),
        );
      const soft = (store: Store): (Store & Partial<FullStore>) | undefined => (canSoftInvalidate(store) ? store : undefined);
      this.softDelete = (key, atMs) =>
        this.invalidate({ kind: 'delete', key }, () => primary.softDelete(key, atMs), (store) => soft(store)?.softDelete?.(key, atMs) ?? store.delete(key), false);
      this.softDeletePattern = (pattern, atMs) =>
        this.invalidate({ kind: 'pattern', pattern }, () => primary.softDeletePattern(pattern, atMs), (store) => soft(store)?.softDeletePattern?.(pattern, atMs) ?? store.deletePattern(pattern), 0);
      this.softDeleteTags = (tags, atMs) =>
        this.invalidate({ kind: 'tags', tags }, () => primary.softDeleteTags(tags, atMs), (store) => soft(store)?.softDeleteTags?.(tags, atMs) ?? store.deleteTags(tags), 0);
      this.softDeleteTagPattern = (pattern, atMs) =>
        this.invalidate(
          { kind: 'tagPattern', pattern },
          () => primary.softDeleteTagPattern(pattern, atMs),
          (store) => soft(store)?.softDeleteTagPattern?.(pattern, atMs) ?? store.deleteTagPattern(pattern),
          0,
        );
    }
  }

  /** True while the breaker is open (the primary is being skipped). */
  get degraded(): boolean {
    return this.openedAt !== undefined;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { fallback } = this;
    return this.coordinate('get', key, () => this.primary.get(key), fallback && (() => fallback.get(key)));
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    const { fallback } = this;
    return this.coordinate('set', key, () => this.primary.set(key, value, ttlMs, tags), fallback && (() => fallback.set(key, value, ttlMs, tags)));
  }

  async delete(key: string): Promise<boolean> {
    return this.invalidate({ kind: 'delete', key }, () => this.primary.delete(key), (store) => store.delete(key), false);
  }

  async deletePattern(pattern: string): Promise<number> {
    return this.invalidate({ kind: 'pattern', pattern }, () => this.primary.deletePattern(pattern), (store) => store.deletePattern(pattern), 0);
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    return this.invalidate({ kind: 'tags', tags }, () => this.primary.deleteTags(tags), (store) => store.deleteTags(tags), 0);
  }

  async deleteTagPattern(pattern: string): Promise<number> {
    return this.invalidate({ kind: 'tagPattern', pattern }, () => this.primary.deleteTagPattern(pattern), (store) => store.deleteTagPattern(pattern), 0);
  }

  async clear(): Promise<void> {
    return this.invalidate({ kind: 'clear' }, () => this.primary.clear(), (store) => store.clear(), undefined);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback?.close()]);
  }

  // -------------------------------------------------------------------------------------------

  /** Whether this call should go to the primary: always when closed, once per cool-down when open. */
  private usePrimary(): boolean {
    if (this.openedAt === undefined) return true;
    if (this.probing || Date.now() - this.openedAt < this.settings.coolDownMs) return false;
    this.probing = true;
    return true;
  }

  /** Runs `primary` when the breaker allows it; on failure or while open, `fallback` (or a skip). */
  private async coordinate<T>(operation: string, key: string, primary: () => Promise<T>, fallback: (() => Promise<T>) | undefined): Promise<T> {
    if (this.usePrimary()) {
      try {
        const result = await primary();
        // The healthy case (no failures, breaker closed) must cost the hit path nothing more.
        if (this.failures !== 0 || this.openedAt !== undefined) await this.succeeded();
        return result;
      } catch (error) {
        this.failed(error, operation, key);
        if (!fallback) throw error;
      }
    }
    if (!fallback) throw this.reported(new StoreUnavailableError(operation));
    return fallback();
  }

  private async invalidate<T>(
    record: Invalidation,
    primary: () => Promise<T>,
    onStore: (store: FullStore) => Promise<T>,
    skipped: T,
  ): Promise<T> {
    if (this.usePrimary()) {
      try {
        const result = await primary();
        // The healthy case (no failures, breaker closed) must cost the hit path nothing more.
        if (this.failures !== 0 || this.openedAt !== undefined) await this.succeeded();
        if (this.fallback) await onStore(this.fallback);
        return result;
      } catch (error) {
        this.failed(error, operation(record), undefined);
        // Closed breaker: the caller must know the invalidation did not happen.
        if (this.openedAt === undefined) throw error;
      }
    }
    this.remember(record);
    return this.fallback ? onStore(this.fallback) : skipped;
  }

  private remember(record: Invalidation): void {
    if (this.journalOverflow) return;
    if (this.journal.length >= this.settings.journalLimit) {
      this.journal = [];
      this.journalOverflow = true;
      return;
    }
    this.journal.push(record);
  }

  private async succeeded(): Promise<void> {
    this.failures = 0;
    if (this.openedAt === undefined) return;
    // The probe answered: bring the primary up to date before trusting it again.
    try {
      if (this.journalOverflow) await this.primary.clear();
      for (const record of this.journal) await replay(this.primary, record);
      await this.fallback?.clear();
    } catch (error) {
      this.probing = false;
      this.openedAt = Date.now();
      this.hooks.error(toError(error), 'recover', undefined);
      return;
    }
    const downtimeMs = Date.now() - this.openedAt;
    this.journal = [];
    this.journalOverflow = false;
    this.openedAt = undefined;
    this.probing = false;
    this.hooks.recovered(downtimeMs);
  }

  private failed(error: unknown, operation: string, key: string | undefined): void {
    const err = toError(error);
    if (err instanceof StoreClosedError) return;
    this.hooks.error(err, operation, key);
    this.reported(err);
    if (this.openedAt !== undefined) {
      // The probe failed: stay open for another cool-down.
      this.openedAt = Date.now();
      this.probing = false;
      return;
    }
    if (++this.failures >= this.settings.failureThreshold) {
      this.openedAt = Date.now();
      this.hooks.degraded(err);
    }
  }

  private reported<E extends Error>(error: E): E {
    REPORTED.add(error);
    return error;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

const OPERATIONS: Record<Invalidation['kind'], string> = {
  delete: 'delete',
  pattern: 'deletePattern',
  tags: 'deleteTags',
  tagPattern: 'deleteTagPattern',
  clear: 'clear',
};

function operation(record: Invalidation): string {
  return OPERATIONS[record.kind];
}

async function replay(store: FullStore, record: Invalidation): Promise<unknown> {
  switch (record.kind) {
    case 'delete':
      return store.delete(record.key);
    case 'pattern':
      return store.deletePattern(record.pattern);
    case 'tags':
      return store.deleteTags(record.tags);
    case 'tagPattern':
      return store.deleteTagPattern(record.pattern);
    case 'clear':
      return store.clear();
  }
}
