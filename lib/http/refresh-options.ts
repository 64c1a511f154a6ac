import { refreshAheadFraction } from '../engine/options';
import { type AdaptiveTtlOptions, type ResolvedAdaptiveTtl, resolveAdaptiveTtl } from '../refresh/adaptive';
import { optionalBoolean } from '../validate';

/**
 * The background-refresh options of `cacheResponse` (see docs/refresh.md).
 *
 * @example
 * ```ts
 * app.get('/charts/top', cacheResponse({ ttl: '5m', staleWhileRevalidate: 60, refreshAhead: 0.1, adaptiveTtl: { min: '1m', max: '1h' } }), handler);
 * app.get('/me/feed', cacheResponse({ varyBy: ['x-user'], staleWhileRevalidate: 60, backgroundRefresh: false }), feedHandler);
 * ```
 */
export interface RouteRefreshOptions {
  /**
   * Within `staleWhileRevalidate` (after the TTL or a soft invalidation) a request is answered
   * `STALE` at once and one refresh runs the route's handler detached from any client, as a
   * request through the same app (same URL and host, the headers the key and `Vary` depend on;
   * no `Cookie` or `Authorization` unless the route shares authenticated answers). `false`
   * keeps the first request after expiry waiting for the handler (for handlers that need the
   * real client, its socket or its cookies).
   * @default true
   */
  backgroundRefresh?: boolean;
  /**
   * A hit with less than this fraction of the entry's lifetime left starts one background
   * refresh (like `backgroundRefresh`), so a hot route never expires in front of a client. Keys
   * nobody asks for are left to expire. Between 0 and 1, e.g. `0.1`.
   * @default 0 (off)
   */
  refreshAhead?: number;
  /**
   * Lengthens the route's TTL while refreshes find the answer unchanged (same `ETag`, else the
   * same body; a 304 from the handler counts as unchanged): ×2 per refresh up to `max`; a
   * changed answer drops it to `min`. The first answer is stored for `ttl` within the bounds.
   * Ignored under `ttl: 'origin'`. See docs/refresh.md.
   * @default none: every answer lives `ttl`
   */
  adaptiveTtl?: AdaptiveTtlOptions;
}

/** @internal */
export interface ResolvedRouteRefresh {
  background: boolean;
  ahead: number;
  adaptive: ResolvedAdaptiveTtl | undefined;
}

/** The option names of {@link RouteRefreshOptions}, for the unknown-option check. @internal */
export const ROUTE_REFRESH_OPTION_NAMES = { backgroundRefresh: true, refreshAhead: true, adaptiveTtl: true } as const;

/** @internal */
export function resolveRouteRefresh(options: RouteRefreshOptions): ResolvedRouteRefresh {
  return { background: optionalBoolean('backgroundRefresh', options.backgroundRefresh, true), ahead: refreshAheadFraction(options.refreshAhead), adaptive: resolveAdaptiveTtl(options.adaptiveTtl) };
}
