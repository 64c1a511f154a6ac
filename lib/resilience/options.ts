/** Options of the circuit breaker (`createCache({ breaker })`). */
export interface BreakerOptions {
  /**
   * Consecutive store failures that open the breaker.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * How long the store is skipped once the breaker opens, before one probe, in milliseconds.
   * @default 5000
   */
  coolDownMs?: number;
  /**
   * Invalidations remembered while degraded, to replay on recovery; past it, the primary is
   * cleared on recovery instead.
   * @default 10000
   */
  journalLimit?: number;
}

/** Defaults of {@link BreakerOptions}. */
export const DEFAULT_BREAKER_OPTIONS = Object.freeze({ failureThreshold: 5, coolDownMs: 5_000, journalLimit: 10_000 });
