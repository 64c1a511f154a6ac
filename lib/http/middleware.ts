import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Cache } from '../cache';
import { getDefaultCache } from '../default-cache';
import { apiKey } from '../keys';
import { type CacheResponseOptions, resolveCacheResponseOptions } from '../options';
import type { ResponseEntry } from '../serializer';
import { captureBody } from './capture';
import { ageSeconds, isCacheableMethod, notStorableReason, replayableHeaders } from './rules';

// Hashing path+query with object-hash costs tens of microseconds, more than the rest of a hit;
// a request URL maps to one key, so remember the last few thousand.
const KEY_MEMO_SIZE = 2_000;

function endpointOf(req: Request): string {
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return req.baseUrl + (routePath === undefined ? req.path : String(routePath));
}

function replay(res: Response, entry: ResponseEntry, withBody: boolean): void {
  res.statusCode = entry.status;
  for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value);
  res.setHeader('X-Cache', 'HIT');
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  res.setHeader('Content-Length', entry.body.length);
  if (withBody) res.end(entry.body);
  else res.end();
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
 * Invalid options throw `InvalidOptionError` here, at construction.
 *
 * @example
 * ```ts
 * app.get('/characters/:id', cacheResponse({ ttl: 'character', keyPrefix: 'character' }), handler);
 * ```
 */
export function cacheResponse(options: CacheResponseOptions = {}): RequestHandler {
  const opts = resolveCacheResponseOptions(options, (cache) => (cache ?? getDefaultCache()).profiles);
  const keyMemo = new LRUCache<string, string>({ max: KEY_MEMO_SIZE });

  const keyFor = (req: Request): string => {
    const endpoint = opts.keyPrefix ?? endpointOf(req);
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

  const store = (cache: Cache, key: string, req: Request, res: Response, body: Buffer | undefined, ttlSeconds: number, generation: number): void => {
    if (body === undefined) return;
    const headers = res.getHeaders();
    if (notStorableReason(res.statusCode, headers, opts.statuses) !== undefined) return;
    let tags: readonly string[] | undefined;
    try {
      tags = opts.tags?.(req);
    } catch {
      return; // a tag function that fails leaves the answer uncached rather than untagged
    }
    // setResponse rejects only on invalid tags; store failures become `error` events. The
    // generation taken at the miss keeps an answer overtaken by an invalidation out.
    cache.setResponse(key, { status: res.statusCode, headers: replayableHeaders(headers), body }, { ttl: ttlSeconds, tags, generation }).catch(() => undefined);
  };

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
    let ttlSeconds: number;
    try {
      cache = opts.cache ?? getDefaultCache();
      ttlSeconds = cache.resolveTtl(opts.ttl);
      key = keyFor(req);
    } catch {
      // A misconfiguration discovered late (e.g. a profile removed by configureCache) must not fail the request.
      next();
      return;
    }
    const entry = await cache.getResponse(key);
    if (entry !== undefined) {
      replay(res, entry, req.method === 'GET');
      return;
    }
    res.setHeader('X-Cache', 'MISS');
    // A HEAD answer has no body to store; the GET that follows fills the entry.
    if (req.method === 'GET') {
      const generation = cache.generation();
      captureBody(res, opts.maxBodyBytes, ({ body }) => store(cache, key, req, res, body, ttlSeconds, generation));
    }
    next();
  };
}
