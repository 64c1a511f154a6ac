import { InvalidOptionError } from '../errors';
import { type DurationString, nonNegativeDurationSeconds } from '../ttl';
import { optionNames, plainObject, rejectUnknownOptions } from '../validate';

/**
 * Adaptive TTL bounds (`adaptiveTtl` on `cacheResponse`, `Cache.wrap` and `getCachedQuery`).
 * Each refresh that finds the previous entry compares the new answer with it: unchanged (same
 * value; for routes the same `ETag`, else the same body) doubles the next TTL up to `max`; a
 * changed one drops it to `min`. A fill that finds no previous entry stores for the route's
 * or call's `ttl`, kept within the bounds. The current TTL is the entry's lifetime (`ttlMs` in
 * `inspect`, the CLI and the dashboard).
 *
 * @example
 * ```ts
 * const rule: AdaptiveTtlOptions = { min: '1m', max: '1h' };
 * ```
 */
export interface AdaptiveTtlOptions {
  /** The shortest TTL: seconds or a duration string (`'1m'`). Used after a change. */
  min: number | DurationString;
  /** The longest TTL: seconds or a duration string (`'1h'`). */
  max: number | DurationString;
  /**
   * What an unchanged answer multiplies the TTL by; more than 1.
   * @default 2
   */
  factor?: number;
}

/** @internal */
export interface ResolvedAdaptiveTtl {
  minSeconds: number;
  maxSeconds: number;
  factor: number;
}

const NAMES = optionNames<AdaptiveTtlOptions>({ min: true, max: true, factor: true });

/** Checks `adaptiveTtl`; undefined when not given. @internal */
export function resolveAdaptiveTtl(value: unknown): ResolvedAdaptiveTtl | undefined {
  if (value === undefined) return undefined;
  plainObject('adaptiveTtl', value);
  rejectUnknownOptions('adaptiveTtl', value as object, NAMES, 'adaptiveTtl.');
  const { min, max, factor = 2 } = value as AdaptiveTtlOptions;
  const minSeconds = nonNegativeDurationSeconds('adaptiveTtl.min', min);
  const maxSeconds = nonNegativeDurationSeconds('adaptiveTtl.max', max);
  if (!(minSeconds > 0)) throw new InvalidOptionError('adaptiveTtl.min', `expected a positive number of seconds or a duration string ('1m'), got ${String(min)}`);
  if (!(maxSeconds >= minSeconds)) throw new InvalidOptionError('adaptiveTtl.max', `expected at least adaptiveTtl.min (${minSeconds} s), got ${String(max)}`);
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 1) throw new InvalidOptionError('adaptiveTtl.factor', `expected a number above 1, got ${String(factor)}`);
  return { minSeconds, maxSeconds, factor };
}

/**
 * The TTL of the next entry, in seconds: `previousSeconds` (the lifetime of the entry found
 * before loading) times `factor` when the answer did not change, `min` when it did, and
 * `initialSeconds` within the bounds when there was no previous entry.
 * @internal
 */
export function nextAdaptiveTtl(rule: ResolvedAdaptiveTtl, initialSeconds: number, previousSeconds: number | undefined, unchanged: boolean): number {
  const bounded = (seconds: number): number => Math.min(rule.maxSeconds, Math.max(rule.minSeconds, seconds));
  if (previousSeconds === undefined) return bounded(initialSeconds);
  return unchanged ? bounded(previousSeconds * rule.factor) : rule.minSeconds;
}
