/**
 * Tells whether an invalidation touched an entry (by its full key and full tags).
 * @internal
 */
export type EntryMatcher = (fullKey: string, fullTags: readonly string[] | undefined) => boolean;

interface LogRecord {
  generation: number;
  matches: EntryMatcher;
}

/**
 * How many recent invalidations are remembered. A load that started before the oldest one still
 * remembered is not stored at all (see {@link InvalidationLog.invalidatedSince}): with a bounded
 * log, forgetting must err on the side of not caching.
 * @internal
 */
export const INVALIDATION_LOG_CAPACITY = 4_096;

/**
 * The in-process record of recent invalidations that prevents stale write-backs: a loader takes
 * the current generation before it starts, and its result is stored only if no invalidation
 * touching that entry began since. Invalidations are recorded synchronously when they start,
 * before their first store command, so a write checked afterwards is either refused or issued
 * ahead of the invalidation's commands on the same connection (and then removed by them).
 *
 * Only this process's invalidations are known here; see docs/invalidation.md for what holds
 * across processes.
 * @internal
 */
export class InvalidationLog {
  private current = 0;
  // Loads that started before this generation may have been touched by a forgotten record.
  private floor = 0;
  private readonly records: LogRecord[] = [];

  constructor(private readonly capacity = INVALIDATION_LOG_CAPACITY) {}

  /** The generation to take before loading; compare it with {@link invalidatedSince}. */
  get generation(): number {
    return this.current;
  }

  /** Records an invalidation that is starting now. */
  record(matches: EntryMatcher): void {
    this.current++;
    this.records.push({ generation: this.current, matches });
    if (this.records.length > this.capacity) {
      const dropped = this.records.shift() as LogRecord;
      this.floor = dropped.generation;
    }
  }

  /** Whether an invalidation that began after `generation` touched the entry. */
  invalidatedSince(generation: number, fullKey: string, fullTags: readonly string[] | undefined): boolean {
    if (generation >= this.current) return false;
    if (generation < this.floor) return true;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const record = this.records[i] as LogRecord;
      if (record.generation <= generation) break;
      if (record.matches(fullKey, fullTags)) return true;
    }
    return false;
  }
}
