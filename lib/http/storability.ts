import type { OutgoingHttpHeaders } from 'node:http';
import type { UncacheableReason } from '../engine/events';
import { originFreshness, storedLifetime, targeted } from './freshness';
import { notStorableReason } from './rules';

/** Whether an answer may be stored, and for how long. */
export type Storability =
  | { storable: true; /** Seconds it stays fresh here. */ lifetime: number; /** Its age on arrival, in seconds. */ age: number }
  | { storable: false; reason: UncacheableReason };

/** What the rule needs from the route. */
export interface StorabilityRule {
  /** Statuses the route stores. */
  statuses: ReadonlySet<number>;
  /** The route's TTL in seconds, or `undefined` to follow the origin's lifetime only (`ttl: 'origin'`). */
  routeTtl: number | undefined;
  /** Store only answers with an explicit lifetime (`ttl: 'origin'`, `ttlFromCacheControl`). */
  explicitOnly: boolean;
  /** The targeted field read instead of `Cache-Control` (`cacheControlField`, lower-case). */
  cacheControlField?: string;
}

/**
 * The one storability rule of `cacheResponse` (RFC 9111 §3): a status the route stores, no
 * `Set-Cookie`, no `no-store` / `private` / `no-cache`, no `Vary: *` (see `notStorableReason`),
 * a body within the size limit (`body` undefined: dropped as too large; `null`: not known yet),
 * and some freshness left: the shorter of the route's TTL and what the origin's own lifetime
 * leaves after its `Age` (RFC 9111 §4.2). Applied to the head when it leaves (to decide the
 * `Cache-Control` sent) and to the final headers when the answer ends.
 *
 * @example
 * ```ts
 * storability(200, { 'cache-control': 'max-age=0' }, null, { statuses: new Set([200]), routeTtl: 60, explicitOnly: false }, Date.now());
 * // { storable: false, reason: 'max-age-zero' }
 * ```
 */
export function storability(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined | null, rule: StorabilityRule, now: number): Storability {
  const reason = notStorableReason(status, targeted(headers, rule.cacheControlField), rule.statuses);
  if (reason !== undefined) return { storable: false, reason };
  if (body === undefined) return { storable: false, reason: 'too-large' };
  const origin = originFreshness(headers, now, rule.cacheControlField);
  if (origin.lifetime === undefined && (rule.explicitOnly || rule.routeTtl === undefined)) return { storable: false, reason: 'no-lifetime' };
  const lifetime = storedLifetime(origin, rule.routeTtl);
  if (lifetime <= 0) return { storable: false, reason: 'max-age-zero' };
  return { storable: true, lifetime, age: origin.age };
}
