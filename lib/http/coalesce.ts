import type { ResponseEntry } from '../serializer';

/** How a leader's origin call ended, as seen by the requests that waited for it. */
export type FillOutcome =
  | { kind: 'stored'; entry: ResponseEntry }
  | { kind: 'stale'; entry: ResponseEntry }
  | { kind: 'limited'; retryAfterMs: number }
  | { kind: 'uncacheable' };

/**
 * In-process request coalescing: the first miss for a key becomes the leader and calls the
 * origin; concurrent misses for the key wait for its outcome instead of calling it too.
 * Waiters only ever receive a storable entry (never the leader's `Set-Cookie` or other
 * per-user answer): for anything else they call the origin themselves.
 */
export class FillCoalescer {
  private readonly pending = new Map<string, Promise<FillOutcome>>();

  /** The outcome of the fill in progress for `key`, if any, bounded by `waitMs`. */
  waitFor(key: string, waitMs: number): Promise<FillOutcome> | undefined {
    const fill = this.pending.get(key);
    if (!fill) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<FillOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'uncacheable' }), waitMs);
    });
    return Promise.race([fill, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Registers this request as the leader for `key` and returns its settle function. The outcome
   * reaches waiters at once; the fill stays registered until `until` (the store write) settles,
   * so a request arriving between the answer and the write joins this fill instead of starting
   * another. Later calls are ignored.
   */
  lead(key: string): (outcome: FillOutcome, until?: Promise<unknown>) => void {
    let resolveFill: (outcome: FillOutcome) => void = () => undefined;
    const fill = new Promise<FillOutcome>((resolve) => {
      resolveFill = resolve;
    });
    this.pending.set(key, fill);
    let done = false;
    const unregister = (): void => {
      if (this.pending.get(key) === fill) this.pending.delete(key);
    };
    return (outcome, until) => {
      if (done) return;
      done = true;
      resolveFill(outcome);
      if (until) void until.finally(unregister);
      else unregister();
    };
  }

  /** Whether a fill for `key` is in progress. */
  has(key: string): boolean {
    return this.pending.has(key);
  }
}
