import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import type { Cache } from '../engine/cache';
import type { ResolvedFreshness } from '../engine/options';
import { READ_LATER } from '../stores/store';
import type { BypassReason, UncacheableReason } from '../engine/events';
import { type CacheStatus, answerFrom, deliverable, tooManyRequests } from './answer';
import { staleWindows } from './freshness';
import { REVALIDATION_KEEP_MS, runHandler } from './load';
import { type Answer, type Located, answerOf, findFresh, locate, locateNow, variantKey } from './lookup';
import { type CacheResponseOptions, type RouteMiddleware, asRouteMiddleware, resolveCacheResponseOptions } from './options';
import { EndpointLabels } from './endpoint-label';
import { requestKeyer } from './request-key';
import { setSurrogateHeaders } from './surrogate';
import { isCacheableMethod, requestsRevalidation } from './rules';
import { coverRoute, invalidateOnSuccess, isUnsafeMethod } from './unsafe';
import { varyDigest } from './vary';

// The middleware wires the stages (request -> lookup and answer -> fill and store -> writes);
// each lives in its own module: request-key.ts, lookup.ts, answer.ts, load.ts, storability.ts,
// unsafe.ts. It decides no HTTP rule itself.

function endpointOf(req: Request): string {
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return req.baseUrl + (routePath === undefined ? req.path : String(routePath));
}

/** Nothing in the middleware should throw; if something does, the handler still answers. */
function recover(error: unknown, res: Response, next: NextFunction): void {
  if (!res.headersSent) next();
  else next(error);
}

/** The route's stale windows narrowed by what a stale entry's own `Cache-Control` allows. */
function freshnessFor(freshness: ResolvedFreshness, found: Located['found'], ownField: string | undefined): ResolvedFreshness {
  if (found === undefined || !found.stale) return freshness;
  const windows = staleWindows(found.entry.headers, freshness, ownField);
  return windows === freshness ? freshness : { ...freshness, ...windows };
}

/**
 * Express middleware that answers GET (and HEAD) requests from the cache and stores cacheable
 * answers, following RFC 9110/9111. It is a client of the cache's one fill protocol: it
 * supplies the loader (run the handler without the client's conditional headers, capture the
 * answer, say whether and under which Vary variant it may be stored) and writes the answers
 * the protocol decides on (hit, stale, 304, 429).
 *
 * - Keys are `api:{endpoint}:{hash of path and normalised query}` (`ignoreQuery` names left out,
 *   long keys shortened with a hash), plus `varyBy` values when given. When an answer names
 *   `Vary` headers (or carries a `Content-Encoding`, which implies `Vary: Accept-Encoding`), a
 *   small record under the key lists them and each variant is stored under the key plus a
 *   digest of those request headers.
 * - Stored: statuses in `statuses` (200), bodies up to `maxBodyBytes`, without `Set-Cookie`,
 *   `Cache-Control: no-store/private/no-cache` or `Vary: *`, for the shorter of `ttl` and the
 *   answer's own lifetime (RFC 9111 §4.2: `s-maxage`, `max-age`, `Expires` − `Date`, less its
 *   `Age`); `ttl: 'origin'` follows the answer's lifetime only. `Date` is kept and replayed.
 * - A stale entry with a validator is revalidated (the handler gets `If-None-Match` /
 *   `If-Modified-Since`; its 304 freshens the entry). One byte `Range` of a stored 200 is a 206.
 * - An unsafe request (POST, PUT, PATCH, DELETE) passing through and answered 2xx/3xx
 *   invalidates the answers stored for its path and same-origin `Location` /
 *   `Content-Location` before it is sent (`invalidateOnUnsafe`, RFC 9111 §4.4).
 * - A hit replays status, headers and the byte-identical body with `X-Cache: HIT` and `Age`
 *   (the age it arrived with plus the time stored), or
 *   answers `304` when `If-None-Match` / `If-Modified-Since` match the stored `ETag` /
 *   `Last-Modified`. On a miss the handler runs without the client's conditional headers, so
 *   the full answer is stored, and the cache answers the condition itself.
 * - Concurrent misses for one URL (and variant) run the handler once; the others get its
 *   answer in memory when it is storable (or an error, which they share unstored), so
 *   coalescing holds with the store down. A personal answer (`Set-Cookie`) is never shared.
 * - Requests with `Authorization` or `Cookie` bypass the cache (`X-Cache: BYPASS`) unless
 *   `varyBy` covers them or `shareAuthenticated` is set.
 * - A store failure is a miss: the handler answers and the cache emits `error`.
 * - Each answer ends in exactly one outcome event: `hit`, `miss`, `stale`, `uncacheable`,
 *   `bypass`, `limited` or `not-modified`.
 *
 * Invalid options throw `InvalidOptionError` here, at construction.
 *
 * @example
 * ```ts
 * app.get('/characters/:id', cacheResponse({ ttl: 'character', keyPrefix: 'character' }), handler);
 * app.get('/me', cacheResponse({ varyBy: (req) => String(req.headers['x-user-id']), ttl: 30 }), meHandler);
 * ```
 */
export function cacheResponse(options: CacheResponseOptions = {}): RouteMiddleware {
  const opts = resolveCacheResponseOptions(options, (cache) => (cache ?? getDefaultCache()).profiles);
  const { freshness } = opts;
  const keyOf = requestKeyer(opts);
  // Stale entries are looked up as long as the store keeps them: within a stale window, or to
  // revalidate them. Which of them may be served stale is the fill protocol's decision.
  const lookupGraceMs = Math.max(freshness.graceMs, REVALIDATION_KEEP_MS);
  const labels = new EndpointLabels(opts.keyPrefix);

  /** The key of this request's URL (and `varyBy` values). */
  const baseKeyFor = (req: Request, key: string): string => {
    const { varyBy } = opts;
    if (varyBy === undefined) return key;
    const digest =
      typeof varyBy === 'function' ? createHash('sha1').update(String(varyBy(req))).digest('hex') : varyDigest(varyBy, req.headers);
    return `${key}:by:${digest}`;
  };

  /** With `debug`, says on the answer why the cache did not serve or store it. */
  const explain = (res: Response, reason: BypassReason | UncacheableReason): void => {
    if (opts.debug && !res.headersSent) res.setHeader('X-Cache-Reason', reason);
  };

  const bypassReason = (req: Request): BypassReason | undefined => {
    if (!isCacheableMethod(req.method)) return 'method';
    if (opts.shareAuthenticated) return undefined;
    if (req.headers.authorization !== undefined && !opts.varyCoversAuthorization) return 'authorization';
    if (req.headers.cookie !== undefined && !opts.varyCoversCookie) return 'cookie';
    return undefined;
  };

  const answer = (req: Request, res: Response, entry: Answer['entry'], status: CacheStatus): ReturnType<typeof answerFrom> => answerFrom(req, res, entry, status, opts.cacheControl, undefined, opts.cacheControlField);

  /** Runs the fill for `key` and answers this request from its result. */
  const fillAndAnswer = async (cache: Cache, endpoint: string, baseKey: string, where: Located, routeTtl: number | undefined, refresh: boolean, req: Request, res: Response, next: NextFunction, again = false): Promise<void> => {
    const { key, found } = where;
    const noted: { reason: UncacheableReason | undefined } = { reason: undefined };
    const staleAnswer = found?.stale ? answerOf(found.entry, where.vary, req, true) : undefined;
    const result = await cache.fill<Answer>({
      key,
      // Read when the fill is reported, after the handler ran: the route that answered, not the raw path.
      get endpoint() {
        return labels.of(req, endpoint);
      },
      limitAs: endpoint,
      freshness: freshnessFor(freshness, found, opts.cacheControlField),
      refresh,
      stale: staleAnswer ? { value: staleAnswer, expiresAt: staleAnswer.entry.expiresAt } : undefined,
      // The re-check after taking the lock: in this tick when the store can answer in it.
      find: () => findFresh(cache, baseKey, req),
      load: (context) =>
        runHandler({ opts, baseKey, req, res, next, routeTtl, context, noted, stale: refresh ? undefined : staleAnswer, explain: (reason) => explain(res, reason) }),
      accepts: (shared) => deliverable(shared.entry, req) && (shared.vary.length === 0 || varyDigest(shared.vary, req.headers) === shared.variant),
    });
    switch (result.kind) {
      case 'loaded':
        if (noted.reason === undefined) cache.report('miss', { key, endpoint: labels.of(req, endpoint) });
        else cache.report('uncacheable', { key, endpoint: labels.of(req, endpoint), reason: noted.reason });
        return;
      case 'served-stale':
        cache.report('stale', { key, endpoint: labels.of(req, endpoint), reason: 'error' });
        return;
      case 'shared': {
        const { entry, storable } = result.value;
        if (!storable) explain(res, 'status');
        const sent = await answer(req, res, entry, storable ? 'HIT' : 'MISS');
        if (sent !== false) {
          if (!storable) cache.report('uncacheable', { key, endpoint: labels.of(req, endpoint), reason: 'status' });
          else cache.report(sent === 'not-modified' ? 'not-modified' : 'hit', { key, endpoint: labels.of(req, endpoint) });
          return;
        }
        break;
      }
      case 'mismatch':
        // Another variant's answer: fill this request's variant, coalescing with its peers.
        if (!again && result.value.vary.length > 0) {
          const variant: Located = { key: variantKey(baseKey, result.value.vary, req), found: undefined, vary: result.value.vary };
          await fillAndAnswer(cache, endpoint, baseKey, variant, routeTtl, refresh, req, res, next, true);
          return;
        }
        break;
      case 'stale': {
        const sent = await answer(req, res, result.value.entry, 'STALE');
        if (sent !== false) {
          cache.report('stale', { key, endpoint: labels.of(req, endpoint), reason: result.reason });
          return;
        }
        break;
      }
      case 'limited':
        tooManyRequests(res, result.retryAfterMs);
        cache.report('limited', { key, endpoint: labels.of(req, endpoint), retryAfterMs: result.retryAfterMs });
        return;
      case 'error':
        break;
    }
    // Nothing shareable could answer this request: its handler does, outside any fill.
    res.setHeader('X-Cache', 'MISS');
    cache.report('miss', { key, endpoint: labels.of(req, endpoint) });
    next();
  };

  let lastRoute: unknown;

  /** The cache this middleware uses, resolved per request (the default one can be replaced). */
  const cacheOf = (): Cache => opts.cache ?? getDefaultCache();

  return asRouteMiddleware(function cacheResponseMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    let cache: Cache;
    let routeTtl: number | undefined;
    const endpoint = opts.keyPrefix ?? endpointOf(req);
    try {
      cache = cacheOf();
      routeTtl = opts.originOnly ? undefined : cache.resolveTtl(opts.ttl);
    } catch {
      // A misconfiguration discovered late (a profile removed by configureCache) must not fail the request.
      next();
      return;
    }
    const bypass = bypassReason(req);
    // A cached GET on `app.route(path)` covers the route's writes (see coverRoute); the hit
    // path only compares with the last route seen.
    if (opts.invalidateOnUnsafe && req.route !== lastRoute && req.route !== undefined && bypass !== 'method') {
      lastRoute = req.route;
      coverRoute(lastRoute, cacheOf);
    }
    if (bypass !== undefined) {
      if (bypass !== 'method') res.setHeader('X-Cache', 'BYPASS');
      else if (opts.invalidateOnUnsafe && isUnsafeMethod(req.method)) invalidateOnSuccess(req, res, cacheOf);
      explain(res, bypass);
      cache.report('bypass', { endpoint: labels.of(req, endpoint), reason: bypass });
      next();
      return;
    }
    const keyed = keyOf(req, endpoint);
    if ('bypass' in keyed) {
      res.setHeader('X-Cache', 'BYPASS');
      explain(res, keyed.bypass);
      cache.report('bypass', { endpoint: labels.of(req, endpoint), reason: keyed.bypass });
      next();
      return;
    }
    let baseKey: string;
    try {
      baseKey = baseKeyFor(req, keyed.key);
    } catch {
      res.setHeader('X-Cache', 'BYPASS');
      explain(res, 'vary-by-threw');
      cache.report('bypass', { endpoint: labels.of(req, endpoint), reason: 'vary-by-threw' });
      next();
      return;
    }
    // Tags for the CDN in front, on every answer this route may serve from or store in the cache.
    if (opts.surrogate !== undefined) {
      setSurrogateHeaders(res, req, opts, (dropped) =>
        cache.warn({ code: dropped.code, message: `${dropped.header}: left out "${dropped.key.slice(0, 64)}" (${dropped.code})`, endpoint: labels.of(req, endpoint), key: dropped.key }),
      );
    }
    try {
      const refresh = opts.honorNoCache && requestsRevalidation(req.headers['cache-control'], req.headers.pragma);
      if (refresh) return serve(cache, endpoint, baseKey, { key: baseKey, found: undefined, vary: [] }, routeTtl, refresh, req, res, next);
      // An in-process store answers in this tick: a hit then sends without a single promise.
      const now = locateNow(cache, baseKey, req, lookupGraceMs);
      if (now !== READ_LATER) return serve(cache, endpoint, baseKey, now, routeTtl, refresh, req, res, next);
      return locate(cache, baseKey, req, lookupGraceMs)
        .then((later) => serve(cache, endpoint, baseKey, later, routeTtl, refresh, req, res, next))
        .catch((error: unknown) => recover(error, res, next));
    } catch (error) {
      recover(error, res, next);
      return undefined;
    }
  });

  /** Answers from what was located: a fresh hit at once, anything else through the fill. */
  function serve(cache: Cache, endpoint: string, baseKey: string, where: Located, routeTtl: number | undefined, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    const { found } = where;
    if (found && !found.stale) {
      const result = answer(req, res, found.entry, 'HIT');
      if (result === 'sent' || result === 'not-modified') {
        cache.report(result === 'not-modified' ? 'not-modified' : 'hit', { key: where.key, endpoint: labels.of(req, endpoint) });
        return undefined;
      }
      if (result !== false) {
        return result.then((sent) => {
          if (sent !== false) cache.report('hit', { key: where.key, endpoint: labels.of(req, endpoint) });
          else return miss(cache, endpoint, baseKey, { ...where, found: undefined }, routeTtl, refresh, req, res, next);
          return undefined;
        }).catch((error: unknown) => recover(error, res, next));
      }
    }
    return miss(cache, endpoint, baseKey, found && !found.stale ? { ...where, found: undefined } : where, routeTtl, refresh, req, res, next).catch((error: unknown) =>
      recover(error, res, next),
    );
  }

  /** A request no fresh entry answered: the handler's, through the fill (a GET) or on its own (a HEAD). */
  async function miss(cache: Cache, endpoint: string, baseKey: string, where: Located, routeTtl: number | undefined, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method !== 'GET') {
      // A HEAD answer has no body to store; the GET that follows fills the entry.
      res.setHeader('X-Cache', 'MISS');
      cache.report('miss', { key: where.key, endpoint: labels.of(req, endpoint) });
      next();
      return;
    }
    await fillAndAnswer(cache, endpoint, baseKey, where, routeTtl, refresh, req, res, next);
  }
}
