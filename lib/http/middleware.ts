import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import type { Cache } from '../engine/cache';
import type { ResolvedFreshness } from '../engine/options';
import { READ_LATER } from '../stores/store';
import type { BypassReason, UncacheableReason } from '../engine/events';
import { type CacheStatus, answerFrom, deliverable, tooManyRequests } from './answer';
import { staleWindows } from './freshness';
import { type RefreshMark, refreshInBackground, refreshMarkOf } from './background';
import { mayServeStale } from '../engine/fill';
import { refreshAheadDue } from '../engine/options';
import { REVALIDATION_KEEP_MS, runHandler } from './load';
import { type Answer, type Located, answerOf, findFresh, locate, locateNow, variantKey } from './lookup';
import { type CacheResponseOptions, type RouteMiddleware, asRouteMiddleware, resolveCacheResponseOptions } from './options';
import { EndpointLabels } from './endpoint-label';
import { declareScope } from '../engine/routes';
import { boundKey } from '../keys';
import { requestKeyer } from './request-key';
import { setSurrogateHeaders } from './surrogate';
import { isCacheableMethod, requestsRevalidation } from './rules';
import { coverRoute, invalidateOnSuccess, isUnsafeMethod } from './unsafe';
import { varyDigest } from './vary';

// The middleware wires the stages (request -> lookup and answer -> fill and store -> writes);
// each lives in its own module: request-key.ts, lookup.ts, answer.ts, load.ts, storability.ts,
// unsafe.ts. It decides no HTTP rule itself.

/** `own` tags plus `api:{baseUrl + route path}` when a route answered. */
function withRouteTag(req: Request, own: readonly string[] | undefined): readonly string[] {
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath !== 'string') return own ?? [];
  const tag = `api:${req.baseUrl}${routePath}`;
  return own === undefined ? [tag] : [...own, tag];
}

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
  declareScope(opts.scoping.scope);
  // Mounted with app.use, the key's endpoint is the raw path (no route is matched yet); the
  // stored answer is also tagged `api:{route}`, the route known once the handler ran, so
  // invalidateApiCache('/characters/:id') reaches it.
  const globalOpts = opts.keyPrefix !== undefined ? opts : { ...opts, tags: (req: Request): readonly string[] => withRouteTag(req, opts.tags?.(req)) };

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

  const bypassReason = (req: Request, res: Response, cache: Cache, method: string, headers: Request['headers']): BypassReason | undefined => {
    if (!isCacheableMethod(method)) return 'method';
    if (!opts.enabled || !cache.enabled) return 'disabled';
    if (opts.skip !== undefined && skips(req, res)) return 'skipped';
    if (opts.shareAuthenticated) return undefined;
    if (headers.authorization !== undefined && !opts.varyCoversAuthorization) return 'authorization';
    if (headers.cookie !== undefined && !opts.varyCoversCookie && !onlyIgnoredCookies(headers.cookie)) return 'cookie';
    return undefined;
  };

  const skips = (req: Request, res: Response): boolean => {
    try {
      return opts.skip?.(req, res) === true;
    } catch {
      return true;
    }
  };

  /** Whether every cookie of the request is one `ignoreCookies` names (analytics cookies). */
  const onlyIgnoredCookies = (header: string): boolean => {
    const ignored = opts.ignoreCookie;
    if (ignored === undefined) return false;
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      if (name !== '' && !ignored(name)) return false;
    }
    return true;
  };

  /** The key from the `key` option: `api:{endpoint}:{key(req)}`, or a bypass when it fails. */
  const customKeyOf = (req: Request, endpoint: string, custom: (req: Request) => string): string | { bypass: 'key-threw' } => {
    try {
      const own = custom(req);
      if (typeof own !== 'string' || own === '') return { bypass: 'key-threw' };
      return boundKey(`api:${endpoint}:${own}`, opts.maxKeyLength);
    } catch {
      return { bypass: 'key-threw' };
    }
  };

  /**
   * An answer the cache will not store says so before its headers leave, rather than MISS.
   * Only over the MISS the loader set: a stale answer standing in for an origin error says STALE.
   */
  const uncacheable = (res: Response, reason: UncacheableReason): void => {
    if (!res.headersSent && res.getHeader('X-Cache') === 'MISS') res.setHeader('X-Cache', 'UNCACHEABLE');
    explain(res, reason);
  };

  const answer = (req: Request, res: Response, entry: Answer['entry'], status: CacheStatus): ReturnType<typeof answerFrom> => answerFrom(req, res, entry, status, opts.cacheControl, undefined, opts.cacheControlField);

  /** Runs the fill for `key` and answers this request from its result. */
  const fillAndAnswer = async (cache: Cache, endpoint: string, baseKey: string, where: Located, refresh: boolean, req: Request, res: Response, next: NextFunction, again = false): Promise<void> => {
    const { key, found } = where;
    let routeTtl: number | undefined;
    try {
      // Only a fill needs the route's TTL: a hit never resolves it.
      routeTtl = opts.originOnly ? undefined : cache.resolveTtl(opts.ttl);
    } catch {
      // A misconfiguration discovered late (a profile removed by configureCache) must not fail the request.
      next();
      return;
    }
    // A background refresh has no client: its outcome is a `refresh` event, not a request's.
    const mark = refreshMarkOf(req);
    if (mark !== undefined) mark.taken = true;
    const report: Cache['report'] = mark === undefined ? (event, payload) => cache.report(event, payload) : () => undefined;
    const noted: { reason: UncacheableReason | undefined } = { reason: undefined };
    const staleAnswer = found?.stale ? answerOf(found.entry, where.vary, req, true) : undefined;
    // No route yet means a global mount: its handler has not been matched.
    const handlerOpts = req.route === undefined ? globalOpts : opts;
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
        runHandler({ opts: handlerOpts, baseKey, req, res, next, routeTtl, context, noted, stale: refresh ? undefined : staleAnswer, explain: (reason) => uncacheable(res, reason), previous: found?.entry }),
      accepts: (shared) => deliverable(shared.entry, req) && (shared.vary.length === 0 || varyDigest(shared.vary, req.headers) === shared.variant),
    });
    mark?.settle(key, endpoint, result);
    switch (result.kind) {
      case 'loaded':
        cache.noteRoute(labels.of(req, endpoint), opts.scoping.scope, opts.debug);
        if (noted.reason === undefined) report('miss', { key, endpoint: labels.of(req, endpoint) });
        else report('uncacheable', { key, endpoint: labels.of(req, endpoint), reason: noted.reason });
        return;
      case 'served-stale':
        report('stale', { key, endpoint: labels.of(req, endpoint), reason: 'error' });
        return;
      case 'shared': {
        const { entry, storable } = result.value;
        if (!storable) explain(res, 'status');
        const sent = await answer(req, res, entry, storable ? 'HIT' : 'UNCACHEABLE');
        if (sent !== false) {
          if (!storable) report('uncacheable', { key, endpoint: labels.of(req, endpoint), reason: 'status' });
          else report(sent === 'not-modified' ? 'not-modified' : 'hit', { key, endpoint: labels.of(req, endpoint) });
          return;
        }
        break;
      }
      case 'mismatch':
        // Another variant's answer: fill this request's variant, coalescing with its peers.
        if (!again && result.value.vary.length > 0) {
          const variant: Located = { key: variantKey(baseKey, result.value.vary, req), found: undefined, vary: result.value.vary };
          await fillAndAnswer(cache, endpoint, baseKey, variant, refresh, req, res, next, true);
          return;
        }
        break;
      case 'stale': {
        const sent = await answer(req, res, result.value.entry, 'STALE');
        if (sent !== false) {
          report('stale', { key, endpoint: labels.of(req, endpoint), reason: result.reason });
          return;
        }
        break;
      }
      case 'limited':
        tooManyRequests(res, result.retryAfterMs);
        report('limited', { key, endpoint: labels.of(req, endpoint), retryAfterMs: result.retryAfterMs });
        return;
      case 'error':
        break;
    }
    // Nothing shareable could answer this request: its handler does, outside any fill.
    res.setHeader('X-Cache', 'MISS');
    report('miss', { key, endpoint: labels.of(req, endpoint) });
    next();
  };

  /** Whether a refresh of a request may carry its credentials: only when the key or the route's sharing covers them. */
  const credentials = { cookie: opts.shareAuthenticated || opts.varyCoversCookie, authorization: opts.shareAuthenticated || opts.varyCoversAuthorization };

  let lastRoute: unknown;

  /** The cache this middleware uses, resolved per request (the default one can be replaced). */
  const cacheOf = (): Cache => opts.cache ?? getDefaultCache();

  return asRouteMiddleware(function cacheResponseMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    let cache: Cache;
    const endpoint = opts.keyPrefix ?? endpointOf(req);
    try {
      cache = cacheOf();
    } catch {
      // The default cache is created on first use; should that throw, the handler still answers.
      next();
      return;
    }
    // Read once: on an Express request each property read is a lookup through its prototype chain.
    const { method, headers } = req;
    const bypass = bypassReason(req, res, cache, method, headers);
    // A cached GET on `app.route(path)` covers the route's writes (see coverRoute); the hit
    // path only compares with the last route seen.
    if (opts.invalidateOnUnsafe && bypass !== 'method') {
      const route: unknown = req.route;
      if (route !== lastRoute && route !== undefined) {
        lastRoute = route;
        coverRoute(lastRoute, cacheOf);
      }
    }
    if (bypass !== undefined) {
      if (bypass !== 'method') res.setHeader('X-Cache', 'BYPASS');
      else if (opts.invalidateOnUnsafe && isUnsafeMethod(method)) invalidateOnSuccess(req, res, cacheOf);
      explain(res, bypass);
      cache.report('bypass', { endpoint: labels.of(req, endpoint), reason: bypass });
      next();
      return;
    }
    const keyed = opts.key === undefined ? keyOf(req, endpoint) : customKeyOf(req, endpoint, opts.key);
    if (typeof keyed !== 'string') {
      res.setHeader('X-Cache', 'BYPASS');
      explain(res, keyed.bypass);
      cache.report('bypass', { endpoint: labels.of(req, endpoint), reason: keyed.bypass });
      next();
      return;
    }
    let baseKey: string;
    try {
      baseKey = baseKeyFor(req, keyed);
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
      const refresh = opts.honorNoCache && requestsRevalidation(headers['cache-control'], headers.pragma);
      if (refresh) return serve(cache, endpoint, baseKey, { key: baseKey, found: undefined, vary: [] }, refresh, req, res, next);
      // An in-process store answers in this tick: a hit then sends without a single promise.
      const now = locateNow(cache, baseKey, req, lookupGraceMs);
      if (now !== READ_LATER) return serve(cache, endpoint, baseKey, now, refresh, req, res, next);
      return locate(cache, baseKey, req, lookupGraceMs)
        .then((later) => serve(cache, endpoint, baseKey, later, refresh, req, res, next))
        .catch((error: unknown) => recover(error, res, next));
    } catch (error) {
      recover(error, res, next);
      return undefined;
    }
  });

  /** Answers from what was located: a fresh hit at once, anything else through the fill. */
  function serve(cache: Cache, endpoint: string, baseKey: string, where: Located, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    const { found } = where;
    const mark = refreshMarkOf(req);
    // A refresh ahead of expiry or on a schedule replaces even a fresh entry.
    if (mark !== undefined) return skipOrRefresh(cache, endpoint, baseKey, where, mark, req, res, next);
    if (found && !found.stale) {
      const result = answer(req, res, found.entry, 'HIT');
      if (result === 'sent' || result === 'not-modified') {
        cache.report(result === 'not-modified' ? 'not-modified' : 'hit', { key: where.key, endpoint: labels.of(req, endpoint) });
        if (opts.refresh.ahead > 0 && refreshAheadDue(found.entry.createdAt, found.entry.expiresAt, opts.refresh.ahead)) refreshInBackground(cache, req, where.key, credentials, 'ahead');
        return undefined;
      }
      if (result !== false) {
        return result.then((sent) => {
          if (sent !== false) cache.report('hit', { key: where.key, endpoint: labels.of(req, endpoint) });
          else return miss(cache, endpoint, baseKey, { ...where, found: undefined }, refresh, req, res, next);
          return undefined;
        }).catch((error: unknown) => recover(error, res, next));
      }
    }
    if (found?.stale === true && opts.refresh.background && !refresh && req.method === 'GET' && mayServeStale(found.entry.expiresAt, freshnessFor(freshness, found, opts.cacheControlField), 'revalidate')) {
      const sent = staleAtOnce(cache, endpoint, where, req, res);
      if (sent !== false) return sent === true ? undefined : sent.then((ok) => (ok ? undefined : miss(cache, endpoint, baseKey, where, refresh, req, res, next))).catch((error: unknown) => recover(error, res, next));
    }
    return miss(cache, endpoint, baseKey, found && !found.stale ? { ...where, found: undefined } : where, refresh, req, res, next).catch((error: unknown) =>
      recover(error, res, next),
    );
  }

  /**
   * Answers `STALE` from a stale entry within its stale-while-revalidate window and starts one
   * background refresh. `false` when the entry cannot answer this request (then it is a miss).
   */
  function staleAtOnce(cache: Cache, endpoint: string, where: Located, req: Request, res: Response): boolean | Promise<boolean> {
    const entry = (where.found as NonNullable<Located['found']>).entry;
    const done = (sent: 'sent' | 'not-modified' | false): boolean => {
      if (sent === false) return false;
      cache.report('stale', { key: where.key, endpoint: labels.of(req, endpoint), reason: 'revalidate' });
      refreshInBackground(cache, req, where.key, credentials, 'stale');
      return true;
    };
    const sent = answer(req, res, entry, 'STALE');
    return sent === false || sent === 'sent' || sent === 'not-modified' ? done(sent) : sent.then(done);
  }

  /**
   * A background refresh request: after a stale answer it revalidates the stale entry (unless
   * it was refreshed meanwhile); ahead of expiry or on a schedule it refreshes whatever is there.
   */
  function skipOrRefresh(cache: Cache, endpoint: string, baseKey: string, where: Located, mark: RefreshMark, req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    if (mark.trigger === 'stale' && where.found !== undefined && !where.found.stale) {
      mark.settle(where.key, endpoint, 'skipped');
      res.statusCode = 204;
      res.end();
      return undefined;
    }
    return fillAndAnswer(cache, endpoint, baseKey, where, mark.trigger !== 'stale', req, res, next).catch((error: unknown) => recover(error, res, next));
  }

  /** A request no fresh entry answered: the handler's, through the fill (a GET) or on its own (a HEAD). */
  async function miss(cache: Cache, endpoint: string, baseKey: string, where: Located, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method !== 'GET') {
      // A HEAD answer has no body to store; the GET that follows fills the entry.
      res.setHeader('X-Cache', 'MISS');
      cache.report('miss', { key: where.key, endpoint: labels.of(req, endpoint) });
      next();
      return;
    }
    await fillAndAnswer(cache, endpoint, baseKey, where, refresh, req, res, next);
  }
}
