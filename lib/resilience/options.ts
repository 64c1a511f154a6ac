/**
 * Options of the circuit breaker (`createCache({ breaker })`).
 *
 * @example
 * ```ts
 * createCache({ store, breaker: { failureThreshold: 3, coolDownMs: 1_000 } });
 * ```
 */
export interface BreakerOptions {
  /**
   * Consecutive store failures that open the breaker. Reads and writes are counted apart (a read
   * success resets the read count, a write success the write count) and the breaker opens when
   * the two add up to this, so a store whose writes all fail (Redis out of memory with
   * `noeviction`) opens it even while its reads still succeed. A timeout while the event loop
   * was held up for at least half the timeout is not counted. An invalidation the store cannot
   * take opens it at once, whatever this is (its journal must be replayed before reads).
   * @default 5
   */
  failureThreshold?: number;
  /**
   * The longest wait between two background probes while the breaker is open, in milliseconds.
   * Probes start `probeIntervalMs` after the breaker opens and the wait doubles after each
   * failed probe up to this bound, so recovery is noticed within about this long of the store
   * answering again. Requests never wait for a probe.
   * @default 500
   */
  coolDownMs?: number;
  /**
   * The first wait before a background probe once the breaker opens, in milliseconds (capped by
   * `coolDownMs`).
   * @default 50
   */
  probeIntervalMs?: number;
  /**
   * Invalidations remembered while degraded, to replay on recovery; past it, the primary is
   * cleared on recovery instead.
   * @default 10000
   */
  journalLimit?: number;
}

/**
 * Defaults of {@link BreakerOptions}.
 *
 * @example
 * ```ts
 * createCache({ store, breaker: { ...DEFAULT_BREAKER_OPTIONS, failureThreshold: 10 } });
 * ```
 */
export const DEFAULT_BREAKER_OPTIONS = Object.freeze({ failureThreshold: 5, coolDownMs: 500, probeIntervalMs: 50, journalLimit: 10_000 });

/**
 * How a fallback store is used (`createCache({ fallback, fallbackMode })`).
 * - `'outage'`: the fallback only stands in while the primary is degraded, and is cleared on
 *   recovery (its entries never saw other instances' invalidations).
 * - `'mirror'`: every write goes to both stores, every invalidation to both, so when the primary
 *   dies the fallback already holds the hot entries; it is kept on recovery.
 *
 * @example
 * ```ts
 * createCache({ store: new RedisStore({ url }), fallback: new MemoryStore(), fallbackMode: 'mirror' });
 * ```
 */
export type FallbackMode = 'outage' | 'mirror';

/**
 * The default {@link FallbackMode}.
 *
 * @example
 * ```ts
 * createCache({ store, fallback, fallbackMode: DEFAULT_FALLBACK_MODE }); // same as leaving it out
 * ```
 */
export const DEFAULT_FALLBACK_MODE: FallbackMode = 'outage';
