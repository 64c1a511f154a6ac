/**
 * How a leader's origin call ended, as seen by the requests that waited for it: its answer is
 * in the store (waiters read it back, which also follows Vary for them), it was replaced by the
 * stale answer, the limiter refused it, or it could not be shared.
 */
export type FillOutcome = { kind: 'stored' } | { kind: 'stale' } | { kind: 'limited'; retryAfterMs: number } | { kind: 'uncacheable' };

/**
 * In-process request coalescing: the first miss for a key becomes the leader and calls the
 * origin; concurrent misses for the key wait for its outcome instead of calling it too.
 * Waiters only ever get what was stored (never the leader's `Set-Cookie` or other per-user
 * answer): for anything else they call the origin themselves.
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

  /** Registers this request as the leader for `key`; returns its settle function (later calls are ignored). */
  lead(key: string): (outcome: FillOutcome) => void {
    let resolveFill: (outcome: FillOutcome) => void = () => undefined;
    const fill = new Promise<FillOutcome>((resolve) => {
      resolveFill = resolve;
    });
    this.pending.set(key, fill);
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      if (this.pending.get(key) === fill) this.pending.delete(key);
      resolveFill(outcome);
    };
  }

  /** Whether a fill for `key` is in progress. */
  has(key: string): boolean {
    return this.pending.has(key);
  }
}
