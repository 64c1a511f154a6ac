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
 * Generations are wall-clock times (epoch milliseconds), nudged so they only grow: a record
 * made after a generation was read is always later than it, even within one millisecond.
 * Being times, they compare with the stamps other processes leave in the store, which is how
 * the same generation guards a write against invalidations made elsewhere.
 */
// A whole millisecond: stamps and soft marks go through Lua, whose numbers print with 14
// significant digits, so a fraction of a millisecond would be lost on the way back. A burst of
// invalidations can run the generation ahead of the clock by its length in ms: writes are then
// refused a little longer, the safe side.
const TICK = 1;

/**
 * The in-process record of recent invalidations that prevents stale write-backs: a loader takes
 * the current generation before it starts, and its result is stored only if no invalidation
 * touching that entry began since. Invalidations are recorded synchronously when they start,
 * before their first store command, so a write checked afterwards is either refused or issued
 * ahead of the invalidation's commands on the same connection (and then removed by them).
 *
 * Only this process's invalidations are known here; other processes' are caught by the stamps
 * the cache leaves in the store (see `GuardCapable`), compared with the same generation.
 * @internal
 */
export class InvalidationLog {
  // The generation of the latest record (0 before any).
  private current = 0;
  // Loads that started before this generation may have been touched by a forgotten record.
  private floor = 0;
  private readonly records: LogRecord[] = [];

  constructor(
    private readonly capacity = INVALIDATION_LOG_CAPACITY,
    private readonly now: () => number = Date.now,
  ) {}

  /** The generation to take before loading (the time, never before the latest record). */
  get generation(): number {
    return Math.max(this.now(), this.current);
  }

  /** Records an invalidation that is starting now; returns its generation (its time). */
  record(matches: EntryMatcher): number {
    this.current = Math.max(this.now(), this.current) + TICK;
    this.records.push({ generation: this.current, matches });
    if (this.records.length > this.capacity) {
      const dropped = this.records.shift() as LogRecord;
      this.floor = dropped.generation;
    }
    return this.current;
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
