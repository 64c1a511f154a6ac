import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import type { Cache } from '../engine/cache';
import { InvalidOptionError } from '../errors';
import { optionNames, plainObject, rejectUnknownOptions } from '../validate';
import { holdResponse } from './hold';
import { type RouteMiddleware, asRouteMiddleware } from './options';

/**
 * Longest time a write's answer is held for its invalidation, in ms. Store commands time out
 * well before (100 ms on Redis) and a failed invalidation is journaled, so this only bounds a
 * store that neither answers nor fails.
 */
const INVALIDATION_HOLD_MS = 1_000;

// The "writes" stage: invalidation by unsafe methods (RFC 9111 §4.4).

/** Methods RFC 9110 §9.2.1 defines as safe; every other one may change the target. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Whether a request's method is unsafe (RFC 9110 §9.2.1): POST, PUT, PATCH, DELETE, ... */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/** The path part of a request target or URL path, without query or fragment. */
function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/**
 * The tag every stored answer for `path` carries (scheme, host, query string and Vary variant
 * left out), so a write to the path reaches all of them with one tag invalidation. Hashed: a
 * path can be long and hold any character.
 *
 * @example
 * ```ts
 * pathTag('/items/1'); // '__path__:5b4c...'
 * ```
 */
export function pathTag(path: string): string {
  return `__path__:${createHash('sha1').update(pathOf(path)).digest('hex')}`;
}

/** The path of `req`'s target as the client sent it (under any router mount). */
export function requestPath(req: Request): string {
  return pathOf(req.originalUrl ?? req.url);
}

function headerValue(res: ServerResponse, name: string): string | undefined {
  let value: unknown = res.getHeader(name);
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The paths a successful unsafe request invalidates (RFC 9111 §4.4): its own, and those of
 * `Location` and `Content-Location` when they name the same origin (a URL on another host
 * cannot be this cache's to invalidate, and letting it would let one origin purge another's).
 */
function invalidatedPaths(req: Request, res: ServerResponse): string[] {
  const own = requestPath(req);
  const paths = [own];
  const host = req.headers.host;
  if (host === undefined) return paths;
  const base = `${req.protocol}://${host}${own}`;
  let origin: string;
  try {
    origin = new URL(base).origin;
  } catch {
    return paths;
  }
  for (const name of ['location', 'content-location']) {
    const value = headerValue(res, name);
    if (value === undefined) continue;
    try {
      const target = new URL(value, base);
      if (target.origin === origin && !paths.includes(target.pathname)) paths.push(target.pathname);
    } catch {
      // An unparsable URL names nothing this cache holds.
    }
  }
  return paths;
}

/**
 * Makes a successful unsafe request invalidate what the cache holds for its URL before the
 * answer leaves: when the status is 2xx or 3xx (RFC 9111 §4.4), every stored answer for the
 * request's path (any query string, any Vary variant) and for a same-origin `Location` /
 * `Content-Location`. A failed invalidation (the store down) does not fail the request: the
 * cache journals it and emits `error`.
 * @internal
 */
export function invalidateOnSuccess(req: Request, res: ServerResponse, cacheOf: () => Cache): void {
  holdResponse(
    res,
    (status) => {
      if (status < 200 || status >= 400) return undefined;
      let cache: Cache;
      try {
        cache = cacheOf();
      } catch {
        return undefined;
      }
      return cache.invalidateTags(invalidatedPaths(req, res).map(pathTag));
    },
    INVALIDATION_HOLD_MS,
  );
}

/** Options of {@link invalidateOnWrite}. */
export interface InvalidateOnWriteOptions {
  /**
   * The cache to invalidate.
   * @default the default cache at request time ({@link getDefaultCache})
   */
  cache?: Cache;
}

const INVALIDATE_ON_WRITE_OPTION_NAMES = optionNames<InvalidateOnWriteOptions>({ cache: true });

/**
 * Middleware for write routes (or the whole app): a POST, PUT, PATCH, DELETE or other unsafe
 * request answered 2xx or 3xx invalidates the answers `cacheResponse` stored for its path (every
 * query string and Vary variant) and for a same-origin `Location` / `Content-Location`, before
 * the answer is sent (RFC 9111 §4.4). Safe requests pass untouched. `cacheResponse` does the
 * same by itself for requests that reach it (`invalidateOnUnsafe`); this is for writes that do
 * not, such as `app.put('/items/:id', ...)` beside `app.get('/items/:id', cacheResponse(), ...)`.
 *
 * @example
 * ```ts
 * app.get('/items/:id', cacheResponse({ ttl: 60 }), getItem);
 * app.put('/items/:id', invalidateOnWrite(), putItem); // GET /items/1?x=y is gone before the PUT answers
 * ```
 */
export function invalidateOnWrite(options: InvalidateOnWriteOptions = {}): RouteMiddleware {
  plainObject('invalidateOnWrite options', options);
  rejectUnknownOptions('invalidateOnWrite', options, INVALIDATE_ON_WRITE_OPTION_NAMES);
  if (options.cache !== undefined && (options.cache === null || typeof options.cache !== 'object')) {
    throw new InvalidOptionError('cache', 'expected a Cache (createCache())');
  }
  const cacheOf = (): Cache => options.cache ?? getDefaultCache();
  return asRouteMiddleware(function invalidateOnWriteMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (isUnsafeMethod(req.method)) invalidateOnSuccess(req, res, cacheOf);
    next();
  });
}

/** The part of an Express route this module uses; the same in Express 4 and 5. */
interface RouteLike {
  methods: Record<string, boolean | undefined>;
  stack: unknown[];
}

const covered = new WeakSet<object>();

/**
 * Puts an invalidating layer in front of every unsafe method of `route` (made with
 * `app.route(path).get(cacheResponse(), ...).put(...)`), once per route, so writes to the path
 * a cached GET serves invalidate it though they never pass through the cache. The layer is
 * added the first time the cached GET runs; writes before that find nothing stored by this
 * process to invalidate.
 * @internal
 */
export function coverRoute(route: unknown, cacheOf: () => Cache): void {
  if (route === null || typeof route !== 'object' || covered.has(route)) return;
  covered.add(route);
  const candidate = route as Partial<RouteLike> & Record<string, unknown>;
  const { methods, stack } = candidate;
  if (methods === undefined || !Array.isArray(stack)) return;
  const added: unknown[] = [];
  for (const method of Object.keys(methods)) {
    if (method === '_all' || !methods[method] || !isUnsafeMethod(method.toUpperCase())) continue;
    const add = candidate[method];
    if (typeof add !== 'function') continue;
    // Built on an empty stack, then put in front as a new array: a dispatch under way holds the
    // old array (Express 4 and 5 both read `this.stack` once), so it neither skips nor repeats a layer.
    candidate.stack = [];
    (add as (handler: (req: Request, res: Response, next: NextFunction) => void) => unknown).call(route, function invalidateOnWriteLayer(req, res, next) {
      invalidateOnSuccess(req, res, cacheOf);
      next();
    });
    added.push(...(candidate.stack as unknown[]));
    candidate.stack = stack;
  }
  if (added.length > 0) candidate.stack = [...added, ...stack];
}
