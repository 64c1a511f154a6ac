import type { EventSource } from './stats';

/**
 * Counts hits per key, bounded: past `maxKeys` keys the least-hit half is dropped, so a flood
 * of one-off keys costs a bounded map while the hot keys keep their counts. Approximate by
 * design (a dropped key starts again from zero), which is what a "most hit" list needs.
 *
 * @example
 * ```ts
 * const hot = new HotKeys();
 * hot.attach(cache);
 * hot.top(10); // [{ key: 'myapp:api:status:3f2a...', hits: 120 }, ...]
 * ```
 */
export class HotKeys {
  private readonly counts = new Map<string, number>();

  constructor(readonly maxKeys = 1_000) {}

  /** Counts `hit` and `not-modified` events of `source`; returns a function that stops. */
  attach(source: EventSource): () => void {
    const offs = [source.on('hit', ({ key }) => this.count(key)), source.on('not-modified', ({ key }) => this.count(key))];
    return () => offs.forEach((off) => off());
  }

  /** The `limit` most-hit keys, most first. */
  top(limit: number): Array<{ key: string; hits: number }> {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([key, hits]) => ({ key, hits }));
  }

  /** Hits counted for `key` (0 when unknown or dropped). */
  hitsOf(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  private count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.counts.size <= this.maxKeys) return;
    const kept = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, Math.floor(this.maxKeys / 2));
    this.counts.clear();
    for (const [name, hits] of kept) this.counts.set(name, hits);
  }
}
