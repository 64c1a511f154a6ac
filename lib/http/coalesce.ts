/**
 * How a leader's origin call ended, as seen by the requests that waited for it: its answer is
 * in the store (waiters read it back, which also follows Vary for them), it was replaced by the
 * stale answer, the limiter refused it, or it could not be shared.
 */
export type FillOutcome = { kind: 'stored' } | { kind: 'stale' } | { kind: 'limited'; retryAfterMs: number } | { kind: 'uncacheable' };

/** What the leader of a fill does with it; see {@link FillCoalescer.lead}. */
export interface FillLeader {
  /** Ends the fill with `outcome` for every waiter (later calls are ignored). */
  settle(outcome: FillOutcome): void;
  /** The leader calls the origin now: the waiters' `waitMs` starts counting. */
  filling(): void;
}

interface PendingFill {
  fill: Promise<FillOutcome>;
  filling: boolean;
  /** Starts the timeout of each waiter that joined before the leader began filling. */
  armers: Set<() => void>;
}

/**
 * In-process request coalescing: the first miss for a key becomes the leader and calls the
 * origin; concurrent misses for the key wait for its outcome instead of calling it too.
 * Waiters only ever get what was stored (never the leader's `Set-Cookie` or other per-user
 * answer): for anything else they call the origin themselves.
 *
 * A waiter's `waitMs` counts from the moment the leader calls the origin, not from when it
 * joined: a leader first waits (itself bounded) for another instance holding the cross-process
 * lock, and waiters timing out alongside it would all call the origin at once the moment a
 * lock holder died.
 */
export class FillCoalescer {
  private readonly pending = new Map<string, PendingFill>();

  /** The outcome of the fill in progress for `key`, if any, bounded by `waitMs` once the leader is filling. */
  waitFor(key: string, waitMs: number): Promise<FillOutcome> | undefined {
    const pending = this.pending.get(key);
    if (!pending) return undefined;
    let timer: NodeJS.Timeout | undefined;
    let arm: () => void = () => undefined;
    const timeout = new Promise<FillOutcome>((resolve) => {
      arm = () => {
        timer = setTimeout(() => resolve({ kind: 'uncacheable' }), waitMs);
      };
    });
    if (pending.filling) arm();
    else pending.armers.add(arm);
    return Promise.race([pending.fill, timeout]).finally(() => {
      clearTimeout(timer);
      pending.armers.delete(arm);
    });
  }

  /**
   * Registers this request as the leader for `key`. Every path of the leader must end in
   * `settle` (a response that closes counts), and call `filling` before calling the origin.
   */
  lead(key: string): FillLeader {
    let resolveFill: (outcome: FillOutcome) => void = () => undefined;
    const fill = new Promise<FillOutcome>((resolve) => {
      resolveFill = resolve;
    });
    const pending: PendingFill = { fill, filling: false, armers: new Set() };
    this.pending.set(key, pending);
    let done = false;
    return {
      settle: (outcome) => {
        if (done) return;
        done = true;
        if (this.pending.get(key) === pending) this.pending.delete(key);
        resolveFill(outcome);
      },
      filling: () => {
        if (pending.filling) return;
        pending.filling = true;
        for (const arm of pending.armers) arm();
        pending.armers.clear();
      },
    };
  }

  /** Whether a fill for `key` is in progress. */
  has(key: string): boolean {
    return this.pending.has(key);
  }
}
