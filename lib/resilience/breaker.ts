import { StoreTimeoutError } from '../errors';

/** Which kind of operation failed: reads and writes are counted apart. @internal */
export type FailureKind = 'read' | 'write';

/** How the circuit breaker behaves. @internal */
export interface BreakerSettings {
  failureThreshold: number;
  /** The longest wait between two probes while open. */
  coolDownMs: number;
  /** The first wait before a probe once open. */
  probeIntervalMs: number;
}

// A timer that should fire every LAG_TICK_MS: how late it runs is how long the event loop was
// busy. One per process, running while any breaker is open for business.
const LAG_TICK_MS = 10;
// How long a lag is remembered: a command that timed out is judged by the loop's state since it
// was sent, which is at most its timeout ago (100 ms on Redis by default).
const LAG_MEMORY_MS = 1_000;

/**
 * Measures event-loop lag for the breakers of this process: a store command that "timed out"
 * while the loop could not run (a CPU-saturated process, a long synchronous task) has not shown
 * that the store is down, only that its answer was not read in time.
 */
class LagMonitor {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastTickAt = 0;
  private worstLagMs = 0;
  private worstLagAt = 0;

  acquire(): void {
    if (this.users++ > 0) return;
    this.lastTickAt = Date.now();
    this.timer = setInterval(() => this.tick(), LAG_TICK_MS);
    // Measuring must never keep a process alive.
    this.timer.unref();
  }

  release(): void {
    if (--this.users > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The longest the loop was held up within the last second, including right now. */
  recentLagMs(): number {
    const now = Date.now();
    const current = this.timer === undefined ? 0 : now - this.lastTickAt - LAG_TICK_MS;
    const remembered = now - this.worstLagAt <= LAG_MEMORY_MS ? this.worstLagMs : 0;
    return Math.max(current, remembered);
  }

  private tick(): void {
    const now = Date.now();
    const lag = now - this.lastTickAt - LAG_TICK_MS;
    this.lastTickAt = now;
    if (lag >= this.worstLagMs || now - this.worstLagAt > LAG_MEMORY_MS) {
      this.worstLagMs = lag;
      this.worstLagAt = now;
    }
  }
}

const lag = new LagMonitor();

/**
 * Whether a failure says nothing about the store: a timeout while the event loop was held up
 * for at least half the timeout (the answer may well have been waiting in the socket).
 * @internal
 */
export function isLagTimeout(error: unknown): boolean {
  return error instanceof StoreTimeoutError && lag.recentLagMs() * 2 >= error.timeoutMs;
}

/**
 * A circuit breaker with background probes. Closed, it counts consecutive failures of reads and
 * of writes apart and opens when they add up to `failureThreshold`: a read success resets the
 * read count, a write success the write count, so a Redis that reads but refuses every write
 * (out of memory) still opens it, a dead one opens it as fast as before, and one failed write
 * among thousands of hits adds one, never more, while reads succeed. A timeout during event-loop
 * lag is not counted at all (see {@link isLagTimeout}). At `failureThreshold` it opens, and from then on the
 * caller skips the store; `probe` runs in the background after `probeIntervalMs`, then at a
 * doubling interval capped at `coolDownMs`, and never on a request's path. The probe closes the
 * breaker itself, with {@link CircuitBreaker.close}, once the store is usable again, so it can
 * do the last catch-up work and close without another caller slipping in between.
 * @internal
 */
export class CircuitBreaker {
  private readFailures = 0;
  private writeFailures = 0;
  private firstReadFailureAt = 0;
  private firstWriteFailureAt = 0;
  private outageStart: number | undefined;
  private openedBy: FailureKind = 'read';
  private waitMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly probe: (kind: FailureKind) => Promise<void>,
  ) {
    lag.acquire();
  }

  /** True while the store is being skipped. */
  get isOpen(): boolean {
    return this.outageStart !== undefined;
  }

  /**
   * Records a success of one kind; the healthy path costs one comparison. A read success does
   * not excuse failed writes: a Redis that reads but refuses every write (out of memory) is
   * still useless to a cache, and must open the breaker.
   */
  success(kind: FailureKind): void {
    if (kind === 'read') this.readFailures = 0;
    else this.writeFailures = 0;
  }

  /**
   * Records a failure; returns `true` when this one opened the breaker. `error`, when given,
   * lets a timeout caused by event-loop lag go uncounted.
   */
  failure(kind: FailureKind, error?: unknown): boolean {
    if (this.outageStart !== undefined || this.stopped) return false;
    if (error !== undefined && isLagTimeout(error)) return false;
    if (kind === 'read') {
      if (this.readFailures++ === 0) this.firstReadFailureAt = Date.now();
    } else if (this.writeFailures++ === 0) {
      this.firstWriteFailureAt = Date.now();
    }
    // A dead store fails reads and writes alike: they add up, as one count.
    if (this.readFailures + this.writeFailures < this.settings.failureThreshold) return false;
    // The outage began with the first of these consecutive failures, not when they added up.
    const firsts = [this.readFailures > 0 ? this.firstReadFailureAt : Infinity, this.writeFailures > 0 ? this.firstWriteFailureAt : Infinity];
    this.outageStart = Math.min(...firsts);
    // Probe with what was failing: a read succeeds on a Redis that is out of memory.
    this.openedBy = this.writeFailures > 0 ? 'write' : 'read';
    this.waitMs = Math.min(this.settings.probeIntervalMs, this.settings.coolDownMs);
    this.schedule();
    return true;
  }

  /**
   * Opens the breaker now, whatever the count (an invalidation the store could not take: the
   * store must not serve reads until it has been replayed); returns `true` when this opened it.
   */
  trip(kind: FailureKind): boolean {
    if (this.outageStart !== undefined || this.stopped) return false;
    const firsts = [this.readFailures > 0 ? this.firstReadFailureAt : Infinity, this.writeFailures > 0 ? this.firstWriteFailureAt : Infinity];
    this.outageStart = Math.min(Date.now(), ...firsts);
    this.openedBy = kind;
    this.waitMs = Math.min(this.settings.probeIntervalMs, this.settings.coolDownMs);
    this.schedule();
    return true;
  }

  /** Closes the breaker (called by a successful probe); returns the outage's length in ms. */
  close(): number {
    const downtimeMs = Date.now() - (this.outageStart ?? Date.now());
    this.outageStart = undefined;
    this.readFailures = 0;
    this.writeFailures = 0;
    clearTimeout(this.timer);
    return downtimeMs;
  }

  /** Stops probing for good (the store is closed). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    lag.release();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.probe(this.openedBy).then(
        () => this.next(),
        () => this.next(),
      );
    }, this.waitMs);
    // A probe must never keep a process alive.
    this.timer.unref();
  }

  private next(): void {
    if (!this.isOpen) return;
    // Each failed probe waits longer, up to the bound: quick recovery, little noise.
    this.waitMs = Math.min(this.waitMs * 2, this.settings.coolDownMs);
    this.schedule();
  }
}
