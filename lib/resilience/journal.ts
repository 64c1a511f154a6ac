import { type Store, canDeletePattern, canDeleteTags } from '../stores/store';

/** One invalidation, as issued by the cache. @internal */
export type Invalidation =
  | { kind: 'delete'; key: string }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'tags'; tags: readonly string[] }
  | { kind: 'tagPattern'; pattern: string }
  | { kind: 'clear' };

/** The store operation an invalidation is, for events. @internal */
export const INVALIDATION_OPERATIONS: Record<Invalidation['kind'], string> = {
  delete: 'delete',
  pattern: 'deletePattern',
  tags: 'deleteTags',
  tagPattern: 'deleteTagPattern',
  clear: 'clear',
};

/**
 * Applies `record` to `store`. A store lacking the capability the record needs is cleared
 * instead: a cache may lose entries, it must never keep one that was invalidated.
 * @internal
 */
export async function applyInvalidation(store: Store, record: Invalidation): Promise<number> {
  switch (record.kind) {
    case 'delete':
      return (await store.delete(record.key)) ? 1 : 0;
    case 'pattern':
      if (canDeletePattern(store)) return store.deletePattern(record.pattern);
      break;
    case 'tags':
      if (canDeleteTags(store)) return store.deleteTags(record.tags);
      break;
    case 'tagPattern':
      if (canDeleteTags(store)) return store.deleteTagPattern(record.pattern);
      break;
    case 'clear':
      break;
  }
  await store.clear();
  return 0;
}

/**
 * The invalidations the primary store could not take (its breaker open, or the call failed), to
 * replay on it before it is trusted again. Bounded: past `limit` records it stops recording and
 * remembers that it overflowed, and the replay invalidates the cache's whole namespace instead:
 * a miss storm, never an old answer.
 * @internal
 */
export class InvalidationJournal {
  private records: Invalidation[] = [];
  private overflowed = false;

  /**
   * @param clearAll what an overflowed journal replays instead of its records (the cache's whole
   *   namespace, see ResilientStore).
   */
  constructor(
    private readonly limit: number,
    private readonly clearAll: (store: Store) => Promise<void> = (store) => store.clear(),
  ) {}

  /** Whether nothing waits to be replayed. */
  get empty(): boolean {
    return this.records.length === 0 && !this.overflowed;
  }

  record(record: Invalidation): void {
    if (this.overflowed) return;
    if (this.records.length >= this.limit) {
      this.records = [];
      this.overflowed = true;
      return;
    }
    this.records.push(record);
  }

  /**
   * Replays everything recorded on `store`, including what is recorded while it runs; on a
   * failure the records not yet applied stay for the next attempt. Resolves once the journal is
   * empty, so the caller can trust `store` in the same tick.
   */
  async replay(store: Store): Promise<void> {
    while (!this.empty) {
      if (this.overflowed) {
        this.records = [];
        this.overflowed = false;
        try {
          await this.clearAll(store);
        } catch (error) {
          this.overflowed = true;
          throw error;
        }
        continue;
      }
      const batch = this.records;
      this.records = [];
      for (let i = 0; i < batch.length; i++) {
        try {
          await applyInvalidation(store, batch[i] as Invalidation);
        } catch (error) {
          // Keep what is left, ahead of what arrived meanwhile, for the next probe.
          this.records = [...batch.slice(i), ...this.records];
          throw error;
        }
      }
    }
  }
}
