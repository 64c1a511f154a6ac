import type { StatsSnapshot } from '../metrics/stats';

/** One point of an endpoint's hit-rate curve: the requests between two samples. */
export interface HistoryPoint {
  /** Epoch ms of the sample closing the interval. */
  t: number;
  hits: number;
  misses: number;
  /** `hits / (hits + misses)` over the interval; `null` when it had no cacheable request. */
  hitRate: number | null;
}

/**
 * Samples per-endpoint counters at a fixed interval and keeps the last `size` intervals, so the
 * page can draw hit rate over time (survives page reloads; bounded by endpoints × size).
 * @internal
 */
export class History {
  private previous: Record<string, { hits: number; misses: number }> = {};
  private readonly points = new Map<string, HistoryPoint[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => StatsSnapshot,
    private readonly intervalMs: number,
    private readonly size: number,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    // A stats page must never keep a process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Points per endpoint, oldest first. */
  series(): Record<string, HistoryPoint[]> {
    return Object.fromEntries(this.points);
  }

  private sample(): void {
    const now = Date.now();
    const { endpoints } = this.read();
    const next: Record<string, { hits: number; misses: number }> = {};
    for (const [name, row] of Object.entries(endpoints)) {
      next[name] = { hits: row.hits, misses: row.misses };
      const before = this.previous[name] ?? { hits: 0, misses: 0 };
      const hits = row.hits - before.hits;
      const misses = row.misses - before.misses;
      let list = this.points.get(name);
      if (list === undefined) this.points.set(name, (list = []));
      list.push({ t: now, hits, misses, hitRate: hits + misses === 0 ? null : hits / (hits + misses) });
      if (list.length > this.size) list.splice(0, list.length - this.size);
    }
    this.previous = next;
  }
}
