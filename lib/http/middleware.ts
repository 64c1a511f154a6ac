import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Cache } from '../cache';
import { getDefaultCache } from '../default-cache';
import { apiKey } from '../keys';
import { type CacheResponseOptions, DEFAULT_RESILIENCE_OPTIONS, resolveCacheResponseOptions } from '../options';
import type { ResponseEntry } from '../serializer';
import { captureBody } from './capture';
import { type FillOutcome, FillCoalescer } from './coalesce';
import { ageSeconds, isCacheableMethod, notStorableReason, replayableHeaders } from './rules';
import { guardWithStale } from './stale-guard';

// Hashing path+query with object-hash costs tens of microseconds, more than the rest of a hit;
// a request URL maps to one key, so remember the last few thousand.
const KEY_MEMO_SIZE = 2_000;

type CacheStatus = 'HIT' | 'STALE';

function endpointOf(req: Request): string {
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return req.baseUrl + (routePath === undefined ? req.path : String(routePath));
}

type End = (this: ServerResponse, chunk?: unknown) => ServerResponse;

function replay(res: ServerResponse, entry: ResponseEntry, status: CacheStatus, withBody: boolean, end: End = res.end as End): void {
  res.statusCode = entry.status;
  for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value);
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  res.setHeader('Content-Length', entry.body.length);
  if (withBody) end.call(res, entry.body);
  else end.call(res);
}

/** A rate-limited miss with nothing stale to stand in: 429 with `Retry-After` (RFC 6585 §4). */
function tooManyRequests(res: ServerResponse, retryAfterMs: number): void {
  res.statusCode = 429;
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Cache', 'MISS');
  res.end('Too Many Requests');
}

/**
 * Express middleware that answers GET (and HEAD) requests from the cache and stores cacheable
 * answers. Keys are `api:{endpoint}:{hash of path and normalised query}`. A hit replays the
 * stored status, headers and byte-identical body with `X-Cache: HIT` and `Age`; a miss runs the
 * handler with `X-Cache: MISS` and stores its answer when it is storable (status allowed, no
 * `Set-Cookie`, no `Cache-Control: no-store/private`). Requests with `Authorization` bypass the
 * cache (`X-Cache: BYPASS`) unless `shareAuthenticated` is set. A store failure is a miss: the
 * handler answers and the cache emits `error`.
 *
 * Concurrent misses for one URL run the handler once per process (the others wait for its
 * answer), and once across processes when the store supports locks (Redis). With
 * `staleWhileRevalidate`, the first request after expiry revalidates in the foreground while
 * concurrent ones get the stale answer (`X-Cache: STALE`); with `staleIfError`, a 5xx or thrown
 * error is replaced by the stale answer; with `limiter`, handler calls on misses are rate
 * limited (stale answer, else 429 with `Retry-After`) while hits never are.
 *
 * Invalid options throw `InvalidOptionError` here, at construction.
 *
 * @example
 * ```ts
 * app.get('/characters/:id', cacheResponse({ ttl: 'character', keyPrefix: 'character' }), handler);
 * app.get('/spotify/top', cacheResponse({ ttl: 43_200, staleIfError: 86_400, limiter: { minIntervalMs: 2_000, maxPerWindow: 1_000 } }), handler);
 * ```
 */
export function cacheResponse(options: CacheResponseOptions = {}): RequestHandler {
  const opts = resolveCacheResponseOptions(options, (cache) => (cache ?? getDefaultCache()).profiles);
  const { freshness } = opts;
  const keyMemo = new LRUCache<string, string>({ max: KEY_MEMO_SIZE });
  const fills = new FillCoalescer();

  const keyFor = (req: Request, endpoint: string): string => {
    const memoKey = `${endpoint}\n${req.originalUrl}`;
    let key = keyMemo.get(memoKey);
    if (key === undefined) {
      const queryAt = req.originalUrl.indexOf('?');
      const path = queryAt === -1 ? req.originalUrl : req.originalUrl.slice(0, queryAt);
      key = apiKey(endpoint, path, queryAt === -1 ? '' : req.originalUrl.slice(queryAt + 1));
      keyMemo.set(memoKey, key);
    }
    return key;
  };

  /** Answers a request from a coalesced fill's outcome; false when it must call the origin itself. */
  const answerFromOutcome = (cache: Cache, key: string, res: Response, outcome: FillOutcome, stale: ResponseEntry | undefined, withBody: boolean): boolean => {
    if (outcome.kind === 'stored') {
      replay(res, outcome.entry, 'HIT', withBody);
      return true;
    }
    if (outcome.kind === 'stale') {
      cache.noteStale(key, 'error');
      replay(res, outcome.entry, 'STALE', withBody);
      return true;
    }
    if (outcome.kind === 'limited') {
      if (stale) {
        cache.noteStale(key, 'rate-limited');
        replay(res, stale, 'STALE', withBody);
      } else {
        tooManyRequests(res, outcome.retryAfterMs);
      }
      return true;
    }
    return false;
  };

  /** The miss path of a GET: lead the fill for this key (lock, limiter, stale guard) and run the handler. */
  const fill = async (cache: Cache, key: string, ttlSeconds: number, endpoint: string, res: Response, next: NextFunction, stale: ResponseEntry | undefined): Promise<void> => {
    const settle = fills.lead(key);
    // A handler that never ends its response must not keep waiters (or the map entry) forever.
    res.once('close', () => settle({ kind: 'uncacheable' }));
    const lock = await cache.acquireFill(key);
    if (!lock.acquired) {
      const filled = await cache.waitForFill(key, 'response');
      if (filled) {
        settle({ kind: 'stored', entry: filled });
        replay(res, filled, 'HIT', true);
        return;
      }
    }
    if (freshness.limiter) {
      const retryAfterMs = await cache.consumeRate(freshness.limiter.name ?? endpoint, freshness.limiter);
      if (retryAfterMs > 0) {
        await lock.release();
        settle({ kind: 'limited', retryAfterMs });
        answerFromOutcome(cache, key, res, { kind: 'limited', retryAfterMs }, stale, true);
        return;
      }
    }
    let servedStale: ResponseEntry | undefined;
    captureBody(res, opts.maxBodyBytes, ({ body }) => {
      if (servedStale) {
        void lock.release();
        settle({ kind: 'stale', entry: servedStale });
        return;
      }
      const headers = res.getHeaders();
      if (body === undefined || notStorableReason(res.statusCode, headers, opts.statuses) !== undefined) {
        void lock.release();
        settle({ kind: 'uncacheable' });
        return;
      }
      const entry = cache.responseEntry({ status: res.statusCode, headers: replayableHeaders(headers), body }, ttlSeconds);
      // Hold the lock and the in-process fill until the entry is in the store, so nobody who
      // arrives in between calls the origin again. writeResponse never rejects.
      const written = cache.writeResponse(key, entry, freshness.graceMs).then(() => lock.release());
      settle({ kind: 'stored', entry }, written);
    });
    if (stale && Date.now() < stale.expiresAt + freshness.staleIfErrorMs) {
      const candidate = stale;
      guardWithStale(res, (end) => {
        // `end` is the response's own end from before the guard: the guard's is a sink now.
        servedStale = candidate;
        cache.noteStale(key, 'error');
        replay(res, candidate, 'STALE', true, end as End);
      });
    }
    res.setHeader('X-Cache', 'MISS');
    next();
  };

  const waitMs = (cache: Cache): number => cache.lockWaitMs ?? DEFAULT_RESILIENCE_OPTIONS.lock.waitMs;

  return async function cacheResponseMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (!isCacheableMethod(req.method)) {
      next();
      return;
    }
    if (!opts.shareAuthenticated && req.headers.authorization !== undefined) {
      res.setHeader('X-Cache', 'BYPASS');
      next();
      return;
    }
    let cache: Cache;
    let key: string;
    let endpoint: string;
    let ttlSeconds: number;
    try {
      cache = opts.cache ?? getDefaultCache();
      ttlSeconds = cache.resolveTtl(opts.ttl);
      endpoint = opts.keyPrefix ?? endpointOf(req);
      key = keyFor(req, endpoint);
    } catch {
      // A misconfiguration discovered late (e.g. a profile removed by configureCache) must not fail the request.
      next();
      return;
    }
    const withBody = req.method === 'GET';
    try {
      const found = await cache.lookup(key, 'response', freshness.graceMs);
      if (found && !found.stale) {
        replay(res, found.entry, 'HIT', withBody);
        return;
      }
      const stale = found?.entry;
      const inRevalidateWindow = stale !== undefined && Date.now() < stale.expiresAt + freshness.staleWhileRevalidateMs;
      // Someone is already revalidating: answer from the stale entry at once.
      if (inRevalidateWindow && fills.has(key)) {
        cache.noteStale(key, 'revalidate');
        replay(res, stale, 'STALE', withBody);
        return;
      }
      const waiting = fills.waitFor(key, waitMs(cache));
      if (waiting) {
        const outcome = await waiting;
        if (answerFromOutcome(cache, key, res, outcome, stale, withBody)) return;
      }
      // The answer just seen for this URL was not storable (a cookie, an error): call the
      // handler directly, without queueing behind a fill lock that will not produce an entry.
      if (!withBody || waiting) {
        // A HEAD answer has no body to store; the GET that follows fills the entry.
        res.setHeader('X-Cache', 'MISS');
        next();
        return;
      }
      await fill(cache, key, ttlSeconds, endpoint, res, next, stale);
    } catch (error) {
      // Nothing above should throw; if it does, the handler still answers.
      if (!res.headersSent) next();
      else next(error);
    }
  };
}
