import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Cache, FillLock, Lookup } from '../engine/cache';
import { getDefaultCache } from '../default-cache';
import { apiKey, boundKey } from '../keys';
import { DEFAULT_RESILIENCE_OPTIONS } from '../engine/options';
import { type CacheResponseOptions, type ResolvedCacheResponseOptions, resolveCacheResponseOptions } from './options';
import type { ResponseEntry } from '../serializer';
import { type CapturedHead, type CapturedResponse, captureResponse } from './capture';
import { FillCoalescer } from './coalesce';
import { NOT_MODIFIED_FIELDS, bodyEtag, isNotModified } from './conditional';
import { ageSeconds, cacheControlTtl, isCacheableMethod, notStorableReason, replayableHeaders, requestsRevalidation } from './rules';
import { routeTags } from './scope-tags';
import { guardWithStale } from './stale-guard';
import { type VarySpec, acceptsCoding, isEncoded, isVarySpec, responseVary, varyDigest } from './vary';

// Hashing path+query with object-hash costs tens of microseconds, more than the rest of a hit;
// a request URL maps to one key, so remember recent ones. Bounded by characters as well as by
// count, because hostile URLs can be as long as the server's header limit.
const KEY_MEMO_SIZE = 2_000;
const KEY_MEMO_CHARS = 2_000_000;

// Async zlib: a 1 MiB body must not stall every other request on the event loop.
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/** A body the cache compressed for storage, restored; undefined when it cannot be read (then it is a miss). */
async function gunzipStored(body: Buffer): Promise<Buffer | undefined> {
  try {
    return await gunzip(body);
  } catch {
    return undefined;
  }
}

function endpointOf(req: Request): string {
  const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return req.baseUrl + (routePath === undefined ? req.path : String(routePath));
}

/** Where the variant of `baseKey` selected by the request's values of `vary` lives. */
function variantKey(baseKey: string, vary: readonly string[], req: Request): string {
  return `${baseKey}:v:${varyDigest(vary, req.headers)}`;
}

/** Whether a stored answer may go to this request: encoded bytes only to clients that accept the coding. */
function deliverable(entry: ResponseEntry, req: Request): boolean {
  const coding = entry.headers['content-encoding'];
  if (!isEncoded(coding)) return true;
  return acceptsCoding(req.headers['accept-encoding'], String(coding));
}

/** Whether the request's preconditions turn this hit into a 304 (RFC 9110 §13.2.1: only over a 2xx). */
function notModified(req: Request, entry: ResponseEntry): boolean {
  if (req.headers['if-none-match'] === undefined && req.headers['if-modified-since'] === undefined) return false;
  return entry.status >= 200 && entry.status < 300 && isNotModified(req.headers, entry.headers);
}

/** The fill lock of a fill that does not take one. */
const UNLOCKED: FillLock = Object.freeze({ acquired: true, shared: false, release: async () => undefined });

/** What `X-Cache` says of an answer from the store. */
type CacheStatus = 'HIT' | 'STALE';

type End = (this: Response, chunk?: unknown) => Response;

function replayNotModified(res: Response, entry: ResponseEntry, cacheControl: string | undefined, status: CacheStatus): void {
  res.statusCode = 304;
  for (const name of NOT_MODIFIED_FIELDS) {
    const value = entry.headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  res.end();
}

/** Sends a stored answer. `end` is the response's own `end` when a wrapper must be bypassed. */
function replay(req: Request, res: Response, entry: ResponseEntry, body: Buffer, cacheControl: string | undefined, status: CacheStatus, end?: End): void {
  res.statusCode = entry.status;
  for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value);
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  res.setHeader('Content-Length', body.length);
  const send = end ?? (res.end as End);
  if (req.method === 'HEAD') send.call(res);
  else send.call(res, body);
}

/** A rate-limited miss with nothing stale to stand in: 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3). */
function tooManyRequests(res: Response, retryAfterMs: number): void {
  res.statusCode = 429;
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Cache', 'MISS');
  res.end('Too Many Requests');
}



/**
 * Sends `cacheControl` instead of the handler's header, on hits and on misses that will be
 * stored. A layer mounted outside the cache (a session middleware) can still add `Set-Cookie`
 * after this point; the handler's own `Cache-Control` is then put back, so a cookie-bearing
 * answer never goes out marked shareable (and such a miss is not stored).
 */
function overrideCacheControl(res: Response, cacheControl: string, original: string | number | readonly string[] | undefined): void {
  res.setHeader('Cache-Control', cacheControl);
  const setHeader = res.setHeader;
  res.setHeader = function guardedSetHeader(this: Response, name: string, value: number | string | readonly string[]): Response {
    const result = setHeader.call(this, name, value);
    if (name.toLowerCase() === 'set-cookie' && this.getHeader('cache-control') === cacheControl) {
      if (original === undefined) this.removeHeader('Cache-Control');
      else setHeader.call(this, 'Cache-Control', original);
    }
    return result as Response;
  } as Response['setHeader'];
}

/** The TTL an answer gets, or 0 when its own `Cache-Control` forbids reuse. */
function answerTtl(opts: ResolvedCacheResponseOptions, head: CapturedHead, routeTtl: number): number {
  if (!opts.ttlFromCacheControl) return routeTtl;
  return cacheControlTtl(head.headers['cache-control']) ?? routeTtl;
}

function mayStore(opts: ResolvedCacheResponseOptions, head: CapturedHead, routeTtl: number): boolean {
  return notStorableReason(head.status, head.headers, opts.statuses) === undefined && answerTtl(opts, head, routeTtl) > 0;
}

/**
 * Express middleware that answers GET (and HEAD) requests from the cache and stores cacheable
 * answers, following RFC 9110/9111:
 *
 * - Keys are `api:{endpoint}:{hash of path and normalised query}` (`ignoreQuery` names left out,
 *   long keys shortened with a hash), plus `varyBy` values when given. When an answer names
 *   `Vary` headers (or carries a `Content-Encoding`, which implies `Vary: Accept-Encoding`), a
 *   small record under the key lists them and each variant is stored under the key plus a
 *   digest of those request headers.
 * - Stored: statuses in `statuses` (200), bodies up to `maxBodyBytes`, without `Set-Cookie`,
 *   `Cache-Control: no-store/private/no-cache` or `Vary: *`.
 * - A hit replays status, headers and the byte-identical body with `X-Cache: HIT` and `Age`, or
 *   answers `304` when `If-None-Match` / `If-Modified-Since` match the stored `ETag` /
 *   `Last-Modified`. Each entry carries the handler's `ETag`, else a SHA-1 of the body computed
 *   once at store time. HEAD is answered from the GET entry.
 * - Requests with `Authorization` or `Cookie` bypass the cache (`X-Cache: BYPASS`) unless
 *   `varyBy` covers them or `shareAuthenticated` is set.
 * - A store failure is a miss: the handler answers and the cache emits `error`.
 *
 * Invalid options throw `InvalidOptionError` here, at construction.
 *
 * @example
 * ```ts
 * app.get('/characters/:id', cacheResponse({ ttl: 'character', keyPrefix: 'character' }), handler);
 * app.get('/me', cacheResponse({ varyBy: (req) => req.user.id, ttl: 30 }), meHandler);
 * ```
 */
export function cacheResponse(options: CacheResponseOptions = {}): RequestHandler {
  const opts = resolveCacheResponseOptions(options, (cache) => (cache ?? getDefaultCache()).profiles);
  const keyMemo = new LRUCache<string, string>({
    max: KEY_MEMO_SIZE,
    maxSize: KEY_MEMO_CHARS,
    sizeCalculation: (key, memoKey) => key.length + memoKey.length,
  });

  const urlKey = (req: Request): string => {
    const endpoint = opts.keyPrefix ?? endpointOf(req);
    const memoKey = `${endpoint}\n${req.originalUrl}`;
    let key = keyMemo.get(memoKey);
    if (key === undefined) {
      const queryAt = req.originalUrl.indexOf('?');
      const path = queryAt === -1 ? req.originalUrl : req.originalUrl.slice(0, queryAt);
      key = boundKey(apiKey(endpoint, path, queryAt === -1 ? '' : req.originalUrl.slice(queryAt + 1), opts.ignoreQuery), opts.maxKeyLength);
      keyMemo.set(memoKey, key);
    }
    return key;
  };

  const baseKeyFor = (req: Request): string => {
    const key = urlKey(req);
    const { varyBy } = opts;
    if (varyBy === undefined) return key;
    const digest =
      typeof varyBy === 'function' ? createHash('sha1').update(String(varyBy(req))).digest('hex') : varyDigest(varyBy, req.headers);
    return `${key}:by:${digest}`;
  };

  const fills = new FillCoalescer();

  const bypasses = (req: Request): boolean => {
    if (opts.shareAuthenticated) return false;
    if (req.headers.authorization !== undefined && !opts.varyCoversAuthorization) return true;
    return req.headers.cookie !== undefined && !opts.varyCoversCookie;
  };

  /** The stored answer for this request (following a Vary record), fresh or within `graceMs` past its TTL. */
  const lookup = async (cache: Cache, baseKey: string, req: Request, graceMs: number, emit = true): Promise<Lookup<ResponseEntry> | undefined> => {
    const found = await cache.lookup(baseKey, undefined, graceMs, emit);
    if (found === undefined) return undefined;
    if (found.entry.kind === 'response') return found as Lookup<ResponseEntry>;
    // A value under a base key is the record of which request headers select the variant.
    if (!isVarySpec(found.entry.value)) return undefined;
    return (await cache.lookup(variantKey(baseKey, found.entry.value.vary, req), 'response', graceMs, emit)) as Lookup<ResponseEntry> | undefined;
  };

  /** A fresh entry for this request; quietly (no hit/miss events) for re-checks of a request already counted. */
  const freshLookup = async (cache: Cache, baseKey: string, req: Request, emit = true): Promise<ResponseEntry | undefined> => {
    const found = await lookup(cache, baseKey, req, 0, emit);
    return found && !found.stale ? found.entry : undefined;
  };

  /**
   * Answers from a stored entry: 304 when the preconditions match, else the body. Returns false
   * when the entry cannot serve this request (an encoding it does not accept, an unreadable
   * stored body). Only gzip-stored bodies make it asynchronous, so a common hit stays synchronous.
   */
  const answer = (req: Request, res: Response, entry: ResponseEntry, status: CacheStatus): boolean | Promise<boolean> => {
    if (!deliverable(entry, req)) return false;
    if (notModified(req, entry)) {
      replayNotModified(res, entry, opts.cacheControl, status);
      return true;
    }
    if (entry.bodyEncoding === undefined) {
      replay(req, res, entry, entry.body, opts.cacheControl, status);
      return true;
    }
    return gunzipStored(entry.body).then((body) => {
      if (body === undefined) return false;
      replay(req, res, entry, body, opts.cacheControl, status);
      return true;
    });
  };

  /** A limited miss: the stale answer when there is one, else 429. */
  const answerLimited = async (cache: Cache, baseKey: string, req: Request, res: Response, stale: ResponseEntry | undefined, retryAfterMs: number): Promise<void> => {
    if (stale) {
      cache.noteStale(baseKey, 'rate-limited');
      if (await answer(req, res, stale, 'STALE')) return;
    }
    tooManyRequests(res, retryAfterMs);
  };

  const store = async (
    cache: Cache,
    baseKey: string,
    req: Request,
    res: Response,
    captured: CapturedResponse,
    routeTtl: number,
    generation: number,
  ): Promise<boolean> => {
    const { body, status, headers } = captured;
    if (body === undefined || !mayStore(opts, captured, routeTtl)) return false;
    // Layers outside this one (a session, a security header middleware) may have added a cookie
    // or a no-store after the handler's head was taken; the final headers get a say too.
    if (notStorableReason(status, res.getHeaders(), opts.statuses) !== undefined) return false;
    let tags: readonly string[] | undefined;
    try {
      tags = routeTags(opts, req);
    } catch {
      return false; // a tag function that fails leaves the answer uncached rather than untagged
    }
    const { graceMs } = opts.freshness;
    const ttl = answerTtl(opts, captured, routeTtl);
    const stored = replayableHeaders(headers);
    stored.etag ??= bodyEtag(body);
    const vary = responseVary(headers);
    let key = baseKey;
    // The Vary record is awaited with the variant: waiters released after this write must find
    // the record too, or they would miss a variant that is already stored.
    let specWritten: Promise<boolean> = Promise.resolve(true);
    if (vary.length > 0) {
      const spec: VarySpec = { vary };
      specWritten = cache.set(baseKey, spec, { ttl, graceMs, tags });
      key = variantKey(baseKey, vary, req);
    }
    let storedBody = body;
    let bodyEncoding: 'gzip' | undefined;
    if (opts.compressStoredBodiesOver > 0 && body.length >= opts.compressStoredBodiesOver && !isEncoded(headers['content-encoding'])) {
      storedBody = await gzip(body);
      bodyEncoding = 'gzip';
    }
    // setResponse rejects only on invalid tags; store failures become `error` events. The
    // generation taken at the miss keeps an answer overtaken by an invalidation out.
    const response = bodyEncoding === undefined ? { status, headers: stored, body } : { status, headers: stored, body: storedBody, bodyEncoding };
    const [, written] = await Promise.all([specWritten, cache.setResponse(key, response, { ttl, tags, generation, graceMs })]);
    return written;
  };

  /**
   * The miss path of a GET, as the leader of this key's fill in this process: take the
   * cross-process fill lock (or wait for another instance's fill), check the origin limiter,
   * guard against a 5xx with the stale answer, then run the handler and store its answer.
   * Without `takeLock` it neither takes nor waits for the lock: a request whose Vary variant
   * nobody is filling must not wait for the lock another variant's leader holds.
   */
  const fill = async (
    cache: Cache,
    baseKey: string,
    routeTtl: number,
    req: Request,
    res: Response,
    next: NextFunction,
    stale: ResponseEntry | undefined,
    refresh: boolean,
    takeLock = true,
  ): Promise<void> => {
    const { freshness } = opts;
    const { settle, filling } = fills.lead(baseKey);
    let ended = false;
    // A response that closes without ending (client gone, handler hung) must not keep waiters
    // (or the map entry) forever; one that ended settles once its store write lands.
    res.once('close', () => {
      if (!ended) settle({ kind: 'uncacheable' });
    });
    const lock = takeLock ? await cache.acquireFill(baseKey) : UNLOCKED;
    // A forced refresh (honorNoCache) must not accept the entry it was asked to replace.
    if (!refresh && (!lock.acquired || lock.shared)) {
      // Another instance is revalidating: within stale-while-revalidate, serve stale at once.
      if (!lock.acquired && stale && Date.now() < stale.expiresAt + freshness.staleWhileRevalidateMs) {
        settle({ kind: 'uncacheable' });
        cache.noteStale(baseKey, 'revalidate');
        if (await answer(req, res, stale, 'STALE')) return;
      }
      // Another instance is filling (wait for it), or filled the key between this request's
      // miss and its lock (look once more).
      const find = (): Promise<ResponseEntry | undefined> => freshLookup(cache, baseKey, req, false);
      const filled = lock.acquired ? await find() : await cache.waitForFill(find);
      if (filled && (await answer(req, res, filled, 'HIT'))) {
        await lock.release();
        settle({ kind: 'stored' });
        return;
      }
    }
    filling();
    if (freshness.limiter) {
      const retryAfterMs = await cache.consumeRate(freshness.limiter.name ?? (opts.keyPrefix ?? endpointOf(req)), freshness.limiter);
      if (retryAfterMs > 0) {
        await lock.release();
        settle({ kind: 'limited', retryAfterMs });
        await answerLimited(cache, baseKey, req, res, stale, retryAfterMs);
        return;
      }
    }
    let servedStale = false;
    const generation = cache.generation();
    captureResponse(res, opts.maxBodyBytes, {
      onHead: (head) => {
        if (opts.cacheControl !== undefined && mayStore(opts, head, routeTtl)) overrideCacheControl(res, opts.cacheControl, head.headers['cache-control']);
      },
      onEnd: (captured) => {
        ended = true;
        if (servedStale) {
          void lock.release();
          settle({ kind: 'stale' });
          return;
        }
        // Storing happens after the answer left. The lock and the waiters are released once the
        // entry is in the store, so nobody arriving in between calls the handler again.
        store(cache, baseKey, req, res, captured, routeTtl, generation)
          .catch(() => false)
          .then(async (stored) => {
            await lock.release();
            settle(stored ? { kind: 'stored' } : { kind: 'uncacheable' });
          });
      },
    });
    // Stale-if-error: only an answer this request can take as it is (no gzip to undo mid-response).
    if (stale && Date.now() < stale.expiresAt + freshness.staleIfErrorMs && stale.bodyEncoding === undefined && deliverable(stale, req)) {
      const fallback = stale;
      guardWithStale(res, (end) => {
        servedStale = true;
        cache.noteStale(baseKey, 'error');
        replay(req, res, fallback, fallback.body, opts.cacheControl, 'STALE', end as End);
      });
    }
    res.setHeader('X-Cache', 'MISS');
    next();
  };

  return async function cacheResponseMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (!isCacheableMethod(req.method)) {
      next();
      return;
    }
    if (bypasses(req)) {
      res.setHeader('X-Cache', 'BYPASS');
      next();
      return;
    }
    let cache: Cache;
    let baseKey: string;
    let routeTtl: number;
    try {
      cache = opts.cache ?? getDefaultCache();
      routeTtl = cache.resolveTtl(opts.ttl);
      baseKey = baseKeyFor(req);
    } catch {
      // A misconfiguration discovered late (a profile removed by configureCache, a throwing
      // varyBy) must not fail the request.
      next();
      return;
    }
    const { freshness } = opts;
    try {
      let stale: ResponseEntry | undefined;
      const refresh = opts.honorNoCache && requestsRevalidation(req.headers['cache-control'], req.headers.pragma);
      if (!refresh) {
        const found = await lookup(cache, baseKey, req, freshness.graceMs);
        if (found && !found.stale) {
          const result = answer(req, res, found.entry, 'HIT');
          if (result === true || (result !== false && (await result))) return;
        } else if (found) {
          stale = found.entry;
        }
      }
      // Someone in this process is revalidating: within stale-while-revalidate, answer stale at once.
      if (stale && fills.has(baseKey) && Date.now() < stale.expiresAt + freshness.staleWhileRevalidateMs) {
        cache.noteStale(baseKey, 'revalidate');
        if (await answer(req, res, stale, 'STALE')) return;
      }
      // A forced refresh must not settle for the answer of a fill already under way.
      const waiting = refresh ? undefined : fills.waitFor(baseKey, cache.lockWaitMs || DEFAULT_RESILIENCE_OPTIONS.lock.waitMs);
      if (waiting) {
        const outcome = await waiting;
        if (outcome.kind === 'stored') {
          // Read the entry back rather than take the leader's: it follows Vary for this request.
          const filled = await freshLookup(cache, baseKey, req);
          if (filled && (await answer(req, res, filled, 'HIT'))) return;
          // What was stored is another variant (Vary) than this request's: fill this one too,
          // or each later request for it would miss again.
          if (req.method === 'GET') {
            await fill(cache, baseKey, routeTtl, req, res, next, stale, false, false);
            return;
          }
        } else if (outcome.kind === 'stale' && stale) {
          cache.noteStale(baseKey, 'error');
          if (await answer(req, res, stale, 'STALE')) return;
        } else if (outcome.kind === 'limited') {
          await answerLimited(cache, baseKey, req, res, stale, outcome.retryAfterMs);
          return;
        }
        // The answer just seen was not storable (a cookie, an error) or is not for this request:
        // call the handler directly, without queueing behind a fill that will not produce an entry.
        res.setHeader('X-Cache', 'MISS');
        next();
        return;
      }
      if (req.method !== 'GET') {
        // A HEAD answer has no body to store; the GET that follows fills the entry.
        res.setHeader('X-Cache', 'MISS');
        next();
        return;
      }
      await fill(cache, baseKey, routeTtl, req, res, next, stale, refresh);
    } catch (error) {
      // Nothing above should throw; if it does, the handler still answers.
      if (!res.headersSent) next();
      else next(error);
    }
  };
}
