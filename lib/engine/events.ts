/** Why an answer was served but not stored (see "Why was this not cached?" in docs/observability.md). */
export type UncacheableReason =
  | 'set-cookie'
  | 'private'
  | 'no-store'
  | 'no-cache'
  | 'status'
  | 'too-large'
  | 'vary-star'
  | 'tags-threw'
  | 'max-age-zero'
  | 'no-lifetime'
  | 'not-storable'
  | 'store-failed'
  | 'invalidated';

/** Why a request skipped the cache altogether. */
export type BypassReason =
  | 'authorization'
  | 'cookie'
  | 'method'
  | 'query-too-long'
  | 'too-many-params'
  | 'vary-by-threw'
  | 'refresh-requested'
  | 'misconfigured'
  | 'disabled'
  | 'skipped'
  | 'key-threw';

/**
 * What started a background refresh: a stale answer, refresh-ahead, or a schedule (`refreshRoutes`).
 *
 * @example
 * ```ts
 * cache.on('refresh', ({ trigger, outcome }) => metrics.increment(`refresh.${trigger}.${outcome}`));
 * ```
 */
export type RefreshTrigger = 'stale' | 'ahead' | 'schedule';

/**
 * How a background refresh ended: its answer `stored`; `not-stored` (an error status, an
 * uncacheable answer: the old entry stays within its windows); `skipped` (another refresh of
 * the key was running, here or in another process); `failed` (the handler or loader threw, or
 * never answered).
 *
 * @example
 * ```ts
 * cache.on('refresh', ({ key, outcome }) => { if (outcome === 'failed') console.warn(`refresh of ${key} failed`); });
 * ```
 */
export type RefreshOutcome = 'stored' | 'not-stored' | 'skipped' | 'failed';

/** Why a stale entry was served. */
export type StaleReason = 'revalidate' | 'error' | 'rate-limited';

/**
 * The payload of each cache event. Request outcomes (`hit`, `miss`, `stale`, `uncacheable`,
 * `bypass`, `limited`, `not-modified`): every answer of `cacheResponse` ends in exactly one of
 * them, and every `wrap` call in one of `hit`, `miss`, `stale` or `limited`. `endpoint` is the
 * middleware's endpoint (`keyPrefix` or route path); absent for `wrap`.
 */
export interface CacheEvents {
  /** A fresh entry answered. */
  hit: { key: string; endpoint?: string };
  /** An entry past its fresh TTL answered (stale-while-revalidate, stale-if-error, rate limited). */
  stale: { key: string; endpoint?: string; reason: StaleReason };
  /** Nothing usable was stored: the origin answered and its answer was stored (or was storable). */
  miss: { key: string; endpoint?: string };
  /** The origin answered and its answer was not stored, for `reason`. */
  uncacheable: { key?: string; endpoint: string; reason: UncacheableReason };
  /** The request skipped the cache, for `reason`. */
  bypass: { key?: string; endpoint: string; reason: BypassReason };
  /** The origin limiter refused the call and nothing stale could stand in (429 / RateLimitedError). */
  limited: { key: string; endpoint?: string; retryAfterMs: number };
  /** A stored entry matched the request's preconditions: 304 Not Modified. */
  'not-modified': { key: string; endpoint?: string };
  /** One origin call (loader or handler) finished; `stored` says whether its answer was written. */
  fill: { key: string; endpoint?: string; durationMs: number; stored: boolean };
  /**
   * A background refresh ended (no client waited for it): after a stale answer, ahead of expiry
   * (`refreshAhead`) or on a schedule (`refreshRoutes`). `key` is absent when a scheduled path
   * reached no cached route.
   */
  refresh: { key?: string; endpoint?: string; trigger: RefreshTrigger; outcome: RefreshOutcome; durationMs: number };
  /** An entry was written. `ttl` is in seconds. */
  set: { key: string; ttl: number };
  /**
   * Entries were removed by `delete`, a pattern, tags, a scope or `clear`; one event per call,
   * naming what was invalidated (with the namespace) and how many entries went.
   */
  delete: { key?: string; pattern?: string; tags?: readonly string[]; scope?: string; count: number };
  /**
   * A store operation failed or timed out, or an entry could not be decoded. Request paths carry
   * on (as a miss, or without storing); this event is how the failure is reported.
   */
  error: { error: Error; operation: string; key?: string };
  /** The store failed repeatedly: its circuit breaker opened; reads and writes use the fallback (or skip the store). */
  degraded: { store: string; error: Error };
  /** The store answered again after being degraded; invalidations issued meanwhile were applied to it. */
  recovered: { store: string; downtimeMs: number };
  /**
   * Something that works but is probably not what was meant, or was left out to stay within a
   * limit. `scope-unreached`: a scope invalidation removed nothing while no route (nor
   * decorator, nor key written through this cache) uses that scope; emitted once per scope,
   * naming the routes that do exist (`routes`) and the option that would connect them
   * (`keyPrefix` or `scope`). `surrogate-*`: a surrogate key the CDN would not take was left out
   * of the answer's header (`endpoint`, `key`), and the answer went out without it.
   */
  warning: { code: WarningCode; message: string; scope?: string; routes?: readonly KnownRoute[]; endpoint?: string; key?: string };
}

/**
 * What a {@link CacheEvents.warning} is about: `scope-unreached` (an invalidation that reached
 * nothing), `surrogate-key-too-long` (over 1 KB), `surrogate-key-invalid` (a character the
 * header cannot carry), `surrogate-header-full` (past the 16 KB of the header).
 *
 * @example
 * ```ts
 * cache.on('warning', ({ code, message }) => { if (code === 'scope-unreached') logger.warn(message); });
 * ```
 */
export type WarningCode = 'scope-unreached' | 'surrogate-key-too-long' | 'surrogate-key-invalid' | 'surrogate-header-full';

/**
 * A route that cached answers through this cache (or declared a scope), as the `warning` of an
 * invalidation that reached nothing names it.
 *
 * @example
 * ```ts
 * const route: KnownRoute = { endpoint: 'characters', scope: 'characters' };
 * ```
 */
export interface KnownRoute {
  /** The endpoint its answers are keyed and counted under (`keyPrefix`, else the route path). */
  endpoint: string;
  /** The scope its answers are tagged with, when it has one. */
  scope?: string;
}

/** The name of a cache event. */
export type CacheEventName = keyof CacheEvents;

/** A listener for event `E`. */
export type CacheListener<E extends CacheEventName> = (payload: CacheEvents[E]) => void;

/**
 * A minimal typed emitter. Unlike Node's EventEmitter, an `error` with no listener does not
 * throw (a cache failure must never become a request failure), and a throwing listener cannot
 * break the operation that emitted.
 * @internal
 */
export class TypedEmitter {
  private readonly listeners: { [E in CacheEventName]?: Set<CacheListener<E>> } = {};

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void {
    let set = this.listeners[event] as Set<CacheListener<E>> | undefined;
    if (!set) {
      set = new Set();
      (this.listeners as Record<string, Set<CacheListener<E>>>)[event] = set;
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    (this.listeners[event] as Set<CacheListener<E>> | undefined)?.delete(listener);
  }

  listenerCount(event: CacheEventName): number {
    return this.listeners[event]?.size ?? 0;
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const set = this.listeners[event] as Set<CacheListener<E>> | undefined;
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch {
        // A listener's bug must not turn into a failed cache read.
      }
    }
  }
}
