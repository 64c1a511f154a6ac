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

/**
 * A circuit breaker with background probes. Closed, it counts consecutive failures; a read
 * success does not reset a count that includes failed writes. At `failureThreshold` it opens, and from then on the
 * caller skips the store; `probe` runs in the background after `probeIntervalMs`, then at a
 * doubling interval capped at `coolDownMs`, and never on a request's path. The probe closes the
 * breaker itself, with {@link CircuitBreaker.close}, once the store is usable again, so it can
 * do the last catch-up work and close without another caller slipping in between.
 * @internal
 */
export class CircuitBreaker {
  private failures = 0;
  // Set while a write failed since the last success that could excuse it.
  private writesFailing = false;
  private firstFailureAt = 0;
  private outageStart: number | undefined;
  private openedBy: FailureKind = 'read';
  private waitMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly probe: (kind: FailureKind) => Promise<void>,
  ) {}

  /** True while the store is being skipped. */
  get isOpen(): boolean {
    return this.outageStart !== undefined;
  }

  /**
   * Records a success; the healthy path costs one comparison. A read success does not excuse
   * failed writes: a Redis that reads but refuses every write (out of memory) is still useless
   * to a cache, and must open the breaker.
   */
  success(kind: FailureKind): void {
    if (this.failures === 0 || (this.writesFailing && kind === 'read')) return;
    this.failures = 0;
    this.writesFailing = false;
  }

  /** Records a failure; returns `true` when this one opened the breaker. */
  failure(kind: FailureKind): boolean {
    if (this.outageStart !== undefined || this.stopped) return false;
    if (this.failures++ === 0) this.firstFailureAt = Date.now();
    if (kind === 'write') this.writesFailing = true;
    if (this.failures < this.settings.failureThreshold) return false;
    // The outage began with the first of these consecutive failures, not when they added up.
    this.outageStart = this.firstFailureAt;
    // Probe with what was failing: a read succeeds on a Redis that is out of memory.
    this.openedBy = this.writesFailing ? 'write' : 'read';
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
    this.outageStart = this.failures > 0 ? this.firstFailureAt : Date.now();
    this.openedBy = kind;
    this.waitMs = Math.min(this.settings.probeIntervalMs, this.settings.coolDownMs);
    this.schedule();
    return true;
  }

  /** Closes the breaker (called by a successful probe); returns the outage's length in ms. */
  close(): number {
    const downtimeMs = Date.now() - (this.outageStart ?? Date.now());
    this.outageStart = undefined;
    this.failures = 0;
    this.writesFailing = false;
    clearTimeout(this.timer);
    return downtimeMs;
  }

  /** Stops probing for good (the store is closed). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
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
