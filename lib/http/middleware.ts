import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import type { Cache, Lookup } from '../engine/cache';
import { READ_LATER } from '../stores/store';
import type { BypassReason, UncacheableReason } from '../engine/events';
import type { EntryWrite, LoadContext, Loaded } from '../engine/fill';
import type { ResponseEntry, ValueEntry } from '../serializer';
import { resolveTags } from '../validate';
import { type CapturedHead, type CapturedResponse, captureResponse } from './capture';
import { NOT_MODIFIED_FIELDS, bodyEtag, isNotModified } from './conditional';
import { type CacheResponseOptions, type ResolvedCacheResponseOptions, type RouteMiddleware, asRouteMiddleware, resolveCacheResponseOptions } from './options';
import { setStoredHeaders } from './replay-headers';
import { requestKeyer } from './request-key';
import { requestSource } from './response-entry';
import { routeTags } from './scope-tags';
import { ageSeconds, cacheControlTtl, isCacheableMethod, notStorableReason, replayableHeaders, requestsRevalidation } from './rules';
import { guardWithStale } from './stale-guard';
import { type VarySpec, acceptsCoding, isEncoded, isVarySpec, responseVary, varyDigest } from './vary';

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

/** What `X-Cache` says of an answer from the store. */
type CacheStatus = 'HIT' | 'STALE' | 'MISS';

type End = (this: Response, chunk?: unknown) => Response;

/** Sends a 304 from a stored entry; false (nothing sent or left set) when its headers are refused. */
function replayNotModified(res: Response, entry: ResponseEntry, cacheControl: string | undefined, status: CacheStatus): boolean {
  if (!setStoredHeaders(res, entry.headers, NOT_MODIFIED_FIELDS)) return false;
  res.statusCode = 304;
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  res.end();
  return true;
}

/**
 * Sends a stored answer. `end` is the response's own `end` when a wrapper must be bypassed.
 * False (nothing sent, no stored header left on `res`) when a stored header is refused.
 */
function replay(req: Request, res: Response, entry: ResponseEntry, body: Buffer, cacheControl: string | undefined, status: CacheStatus, end?: End): boolean {
  if (!setStoredHeaders(res, entry.headers)) return false;
  // Only when it differs: a store into an Express response (whose prototype was set per request)
  // costs about a microsecond even for the same value, and a stored 200 is the common case.
  if (res.statusCode !== entry.status) res.statusCode = entry.status;
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(ageSeconds(entry.createdAt, Date.now())));
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  res.setHeader('Content-Length', body.length);
  const send = end ?? (res.end as End);
  if (req.method === 'HEAD') send.call(res);
  else send.call(res, body);
  return true;
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


/** Request headers that make a request conditional (RFC 9110 §13.1). */
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'] as const;

/** Takes the conditional headers off a request, so the origin answers in full; returns them. */
function takeConditionals(req: Request): IncomingHttpHeaders | undefined {
  let taken: Record<string, string | string[]> | undefined;
  for (const name of CONDITIONAL_HEADERS) {
    const value = req.headers[name];
    if (value === undefined) continue;
    taken ??= {};
    taken[name] = value;
    delete req.headers[name];
  }
  return taken as IncomingHttpHeaders | undefined;
}

/**
 * An answer as the fill protocol passes it between requests: the entry, and which Vary variant
 * it is (the response's Vary names and the digest of the leader's values for them), so a
 * waiter takes it only when it would select the same variant.
 */
interface Answer {
  entry: ResponseEntry;
  vary: readonly string[];
  variant: string;
  /** Whether it may be replayed as a cache hit (else it is an origin error shared with waiters). */
  storable: boolean;
}

function answerOf(entry: ResponseEntry, vary: readonly string[], req: Request, storable: boolean): Answer {
  return { entry, vary, variant: vary.length === 0 ? '' : varyDigest(vary, req.headers), storable };
}

/** Where a request's entry lives, and what was found there. */
interface Located {
  /** The key of this request's variant when the URL's answers vary (and that is known), else the base key. */
  key: string;
  found: Lookup<ResponseEntry> | undefined;
  vary: readonly string[];
}

/** The answer a fresh stored entry gives this request; undefined when none was found or it is stale. */
function freshAnswer(seen: Located, req: Request): Answer | undefined {
  return seen.found && !seen.found.stale ? answerOf(seen.found.entry, seen.vary, req, true) : undefined;
}

/** The request header names a Vary record under a base key lists; undefined when `found` is no record. */
function varyRecordOf(found: Lookup | undefined): readonly string[] | undefined {
  if (found === undefined || found.entry.kind !== 'value' || !isVarySpec(found.entry.value)) return undefined;
  return found.entry.value.vary;
}

/** A lookup under `key` as the middleware uses it: only a stored response answers. */
function located(key: string, found: Lookup | undefined, vary: readonly string[]): Located {
  return { key, found: found?.entry.kind === 'response' ? (found as Lookup<ResponseEntry>) : undefined, vary };
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
 *   `Cache-Control: no-store/private/no-cache` or `Vary: *`.
 * - A hit replays status, headers and the byte-identical body with `X-Cache: HIT` and `Age`, or
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

  /** The stored answer for this request (following a Vary record), fresh or within `graceMs` past its TTL. */
  const locate = async (cache: Cache, baseKey: string, req: Request, graceMs: number): Promise<Located> => {
    const found = await cache.peek(baseKey, graceMs);
    const vary = varyRecordOf(found);
    if (vary === undefined) return located(baseKey, found, []);
    const key = variantKey(baseKey, vary, req);
    return located(key, await cache.peek(key, graceMs), vary);
  };

  /** {@link locate} in the same tick, or `READ_LATER` when the store has to be awaited. */
  const locateNow = (cache: Cache, baseKey: string, req: Request, graceMs: number): Located | typeof READ_LATER => {
    const found = cache.peekNow(baseKey, graceMs);
    if (found === READ_LATER) return READ_LATER;
    const vary = varyRecordOf(found);
    if (vary === undefined) return located(baseKey, found, []);
    const key = variantKey(baseKey, vary, req);
    const variant = cache.peekNow(key, graceMs);
    return variant === READ_LATER ? READ_LATER : located(key, variant, vary);
  };

  /**
   * Answers from an entry: 304 when the preconditions match, else the body. Returns false when
   * the entry cannot serve this request (an encoding it does not accept, an unreadable stored
   * body). Only gzip-stored bodies make it asynchronous, so a common hit stays synchronous.
   */
  const answer = (req: Request, res: Response, entry: ResponseEntry, status: CacheStatus): 'sent' | 'not-modified' | false | Promise<'sent' | false> => {
    if (!deliverable(entry, req)) return false;
    if (notModified(req, entry)) return replayNotModified(res, entry, opts.cacheControl, status) && 'not-modified';
    if (entry.bodyEncoding === undefined) return replay(req, res, entry, entry.body, opts.cacheControl, status) && 'sent';
    return gunzipStored(entry.body).then((body) => body !== undefined && replay(req, res, entry, body, opts.cacheControl, status) && 'sent');
  };

  /** Why an answer may not be stored, or `undefined` when it may. */
  const uncacheable = (captured: CapturedResponse, res: Response, routeTtl: number): UncacheableReason | undefined => {
    const reason = notStorableReason(captured.status, captured.headers, opts.statuses);
    if (reason !== undefined) return reason;
    if (captured.body === undefined) return 'too-large';
    if (answerTtl(opts, captured, routeTtl) <= 0) return 'max-age-zero';
    // Layers outside this one (a session, a security header middleware) may have added a cookie
    // or a no-store after the handler's head was taken; the final headers get a say too.
    // Only the fields the rule reads, rather than a copy of every header on each miss.
    const final = { 'set-cookie': res.getHeader('set-cookie'), 'cache-control': res.getHeader('cache-control'), vary: res.getHeader('vary') } as OutgoingHttpHeaders;
    return notStorableReason(captured.status, final, opts.statuses);
  };

  /** The entries that store an answer: the variant, and the Vary record beside it. */
  const writesFor = (baseKey: string, req: Request, entry: ResponseEntry, vary: readonly string[], ttlSeconds: number, tags: readonly string[] | undefined): EntryWrite[] | Promise<EntryWrite[]> => {
    if (opts.compressStoredBodiesOver > 0 && entry.body.length >= opts.compressStoredBodiesOver && !isEncoded(entry.headers['content-encoding'])) {
      return gzip(entry.body).then((body) => writesOf(baseKey, req, { ...entry, body, bodyEncoding: 'gzip' }, vary, ttlSeconds, tags));
    }
    // Synchronous unless compressing: an ordinary miss takes no promise here.
    return writesOf(baseKey, req, entry, vary, ttlSeconds, tags);
  };

  /** The entries storing `stored` (the answer, possibly compressed): the variant, and the Vary record beside it. */
  const writesOf = (baseKey: string, req: Request, stored: ResponseEntry, vary: readonly string[], ttlSeconds: number, tags: readonly string[] | undefined): EntryWrite[] => {
    const { graceMs } = freshness;
    if (vary.length === 0) return [{ key: baseKey, entry: stored, ttlSeconds, tags, graceMs }];
    const record: VarySpec = { vary: [...vary] };
    const recordEntry: ValueEntry = { kind: 'value', value: record, createdAt: stored.createdAt, expiresAt: stored.expiresAt };
    // The record is written with its variant: waiters released after this write find both.
    return [
      { key: baseKey, entry: recordEntry, ttlSeconds, tags, graceMs },
      { key: variantKey(baseKey, vary, req), entry: stored, ttlSeconds, tags, graceMs },
    ];
  };

  /**
   * The loader of a fill: runs the handler for this request, lets its answer through to the
   * client, and resolves with what was captured once the answer has left.
   */
  const runHandler = (
    baseKey: string,
    req: Request,
    res: Response,
    next: NextFunction,
    routeTtl: number,
    context: LoadContext<Answer>,
    noted: { reason: UncacheableReason | undefined },
  ): Promise<Loaded<Answer>> =>
    new Promise((resolve) => {
      const conditionals = takeConditionals(req);
      let ended = false;
      // `on`, not `once`: 'close' is emitted once, and once() would add a bound wrapper per miss.
      res.on('close', () => {
        // A handler that never ends must not hold its waiters (they take over after waitMs) nor
        // this fill forever; one that ends after its client left still stores its answer.
        if (!ended) setTimeout(() => resolve({ kind: 'value', value: answerOf(emptyEntry(), [], req, false), share: false }), ABANDONED_FILL_MS).unref();
      });
      captureResponse(res, opts.maxBodyBytes, {
        onHead: (head) => {
          const notStorable = notStorableReason(head.status, head.headers, opts.statuses) ?? (answerTtl(opts, head, routeTtl) > 0 ? undefined : 'max-age-zero');
          const storable = notStorable === undefined;
          if (notStorable !== undefined) explain(res, notStorable);
          if (opts.cacheControl !== undefined && storable) overrideCacheControl(res, opts.cacheControl, head.headers['cache-control']);
          // The client asked conditionally: answer its condition from the full answer.
          if (conditionals !== undefined && head.status >= 200 && head.status < 300 && isNotModified(conditionals, replayableHeaders(head.headers))) return 'not-modified';
          return undefined;
        },
        onEnd: (captured) => {
          ended = true;
          if (conditionals !== undefined) Object.assign(req.headers, conditionals);
          const now = Date.now();
          const ttlSeconds = answerTtl(opts, captured, routeTtl);
          const headers = replayableHeaders(captured.headers);
          const body = captured.body ?? Buffer.alloc(0);
          if (captured.body !== undefined) headers.etag ??= bodyEtag(body);
          const entry: ResponseEntry = { kind: 'response', status: captured.status, headers, body, createdAt: now, expiresAt: now + ttlSeconds * 1000, source: requestSource(req) };
          const vary = responseVary(captured.headers);
          noted.reason = uncacheable(captured, res, routeTtl);
          let tags: readonly string[] | undefined;
          if (noted.reason === undefined) {
            try {
              // The route's own tags and its scope tags; checked here, so a bad list cannot fail the write.
              tags = resolveTags('tags', routeTags(opts, req));
            } catch {
              noted.reason = 'tags-threw'; // a failing tag function leaves the answer uncached rather than untagged
            }
          }
          const value = answerOf(entry, vary, req, noted.reason === undefined);
          if (noted.reason !== undefined) {
            // An origin error goes to the requests that waited for it (not stored); a personal
            // answer (a cookie) or one the client may not share goes to nobody else.
            const share = captured.status >= 500 && captured.headers['set-cookie'] === undefined && captured.body !== undefined;
            resolve({ kind: 'value', value, share });
            return;
          }
          const writes = writesFor(baseKey, req, entry, vary, ttlSeconds, tags);
          if (Array.isArray(writes)) resolve({ kind: 'value', value, share: true, writes });
          else {
            writes.then(
              (compressed) => resolve({ kind: 'value', value, share: true, writes: compressed }),
              () => resolve({ kind: 'value', value, share: true }),
            );
          }
        },
      });
      // Stale-if-error: only an answer this request can take as it is (no gzip to undo mid-response).
      const fallback = context.staleIfError()?.entry;
      if (fallback && fallback.bodyEncoding === undefined && deliverable(fallback, req)) {
        guardWithStale(res, (end) => {
          resolve({ kind: 'stale' });
          // The origin's 5xx is already discarded: a stale entry that cannot be replayed ends bare.
          if (!replay(req, res, fallback, fallback.body, opts.cacheControl, 'STALE', end as End)) {
            res.statusCode = 500;
            (end as End).call(res);
          }
        });
      }
      res.setHeader('X-Cache', 'MISS');
      next();
    });

  /** Runs the fill for `key` and answers this request from its result. */
  const fillAndAnswer = async (cache: Cache, endpoint: string, baseKey: string, located: Located, routeTtl: number, refresh: boolean, req: Request, res: Response, next: NextFunction, again = false): Promise<void> => {
    const { key, found } = located;
    const noted: { reason: UncacheableReason | undefined } = { reason: undefined };
    const result = await cache.fill<Answer>({
      key,
      endpoint,
      freshness,
      refresh,
      stale: found?.stale ? { value: answerOf(found.entry, located.vary, req, true), expiresAt: found.entry.expiresAt } : undefined,
      // The re-check after taking the lock: in this tick when the store can answer in it.
      find: () => {
        const now = locateNow(cache, baseKey, req, 0);
        if (now !== READ_LATER) return Promise.resolve(freshAnswer(now, req));
        return locate(cache, baseKey, req, 0).then((seen) => freshAnswer(seen, req));
      },
      load: (context) => runHandler(baseKey, req, res, next, routeTtl, context, noted),
      accepts: (shared) => deliverable(shared.entry, req) && (shared.vary.length === 0 || varyDigest(shared.vary, req.headers) === shared.variant),
    });
    switch (result.kind) {
      case 'loaded':
        if (noted.reason === undefined) cache.report('miss', { key, endpoint });
        else cache.report('uncacheable', { key, endpoint, reason: noted.reason });
        return;
      case 'served-stale':
        cache.report('stale', { key, endpoint, reason: 'error' });
        return;
      case 'shared': {
        const { entry, storable } = result.value;
        if (!storable) explain(res, 'status');
        const sent = await answer(req, res, entry, storable ? 'HIT' : 'MISS');
        if (sent !== false) {
          if (!storable) cache.report('uncacheable', { key, endpoint, reason: 'status' });
          else cache.report(sent === 'not-modified' ? 'not-modified' : 'hit', { key, endpoint });
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
          cache.report('stale', { key, endpoint, reason: result.reason });
          return;
        }
        break;
      }
      case 'limited':
        tooManyRequests(res, result.retryAfterMs);
        cache.report('limited', { key, endpoint, retryAfterMs: result.retryAfterMs });
        return;
      case 'error':
        break;
    }
    // Nothing shareable could answer this request: its handler does, outside any fill.
    res.setHeader('X-Cache', 'MISS');
    cache.report('miss', { key, endpoint });
    next();
  };

  return asRouteMiddleware(function cacheResponseMiddleware(req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    let cache: Cache;
    let routeTtl: number;
    const endpoint = opts.keyPrefix ?? endpointOf(req);
    try {
      cache = opts.cache ?? getDefaultCache();
      routeTtl = cache.resolveTtl(opts.ttl);
    } catch {
      // A misconfiguration discovered late (a profile removed by configureCache) must not fail the request.
      next();
      return;
    }
    const bypass = bypassReason(req);
    if (bypass !== undefined) {
      if (bypass !== 'method') res.setHeader('X-Cache', 'BYPASS');
      explain(res, bypass);
      cache.report('bypass', { endpoint, reason: bypass });
      next();
      return;
    }
    const keyed = keyOf(req, endpoint);
    if ('bypass' in keyed) {
      res.setHeader('X-Cache', 'BYPASS');
      explain(res, keyed.bypass);
      cache.report('bypass', { endpoint, reason: keyed.bypass });
      next();
      return;
    }
    let baseKey: string;
    try {
      baseKey = baseKeyFor(req, keyed.key);
    } catch {
      res.setHeader('X-Cache', 'BYPASS');
      explain(res, 'vary-by-threw');
      cache.report('bypass', { endpoint, reason: 'vary-by-threw' });
      next();
      return;
    }
    try {
      const refresh = opts.honorNoCache && requestsRevalidation(req.headers['cache-control'], req.headers.pragma);
      if (refresh) return serve(cache, endpoint, baseKey, { key: baseKey, found: undefined, vary: [] }, routeTtl, refresh, req, res, next);
      // An in-process store answers in this tick: a hit then sends without a single promise.
      const now = locateNow(cache, baseKey, req, freshness.graceMs);
      if (now !== READ_LATER) return serve(cache, endpoint, baseKey, now, routeTtl, refresh, req, res, next);
      return locate(cache, baseKey, req, freshness.graceMs)
        .then((later) => serve(cache, endpoint, baseKey, later, routeTtl, refresh, req, res, next))
        .catch((error: unknown) => recover(error, res, next));
    } catch (error) {
      recover(error, res, next);
      return undefined;
    }
  });

  /** Answers from what was located: a fresh hit at once, anything else through the fill. */
  function serve(cache: Cache, endpoint: string, baseKey: string, where: Located, routeTtl: number, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> | undefined {
    const { found } = where;
    if (found && !found.stale) {
      const result = answer(req, res, found.entry, 'HIT');
      if (result === 'sent' || result === 'not-modified') {
        cache.report(result === 'not-modified' ? 'not-modified' : 'hit', { key: where.key, endpoint });
        return undefined;
      }
      if (result !== false) {
        return result.then((sent) => {
          if (sent !== false) cache.report('hit', { key: where.key, endpoint });
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
  async function miss(cache: Cache, endpoint: string, baseKey: string, where: Located, routeTtl: number, refresh: boolean, req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.method !== 'GET') {
      // A HEAD answer has no body to store; the GET that follows fills the entry.
      res.setHeader('X-Cache', 'MISS');
      cache.report('miss', { key: where.key, endpoint });
      next();
      return;
    }
    await fillAndAnswer(cache, endpoint, baseKey, where, routeTtl, refresh, req, res, next);
  }
}

/** Nothing in the middleware should throw; if something does, the handler still answers. */
function recover(error: unknown, res: Response, next: NextFunction): void {
  if (!res.headersSent) next();
  else next(error);
}

/** How long a fill whose client left and whose handler never ended is kept, in ms. */
const ABANDONED_FILL_MS = 30_000;

function emptyEntry(): ResponseEntry {
  return { kind: 'response', status: 500, headers: {}, body: Buffer.alloc(0), createdAt: 0, expiresAt: 0 };
}

/** The TTL an answer gets, or 0 when its own `Cache-Control` forbids reuse. */
function answerTtl(opts: ResolvedCacheResponseOptions, head: CapturedHead, routeTtl: number): number {
  if (!opts.ttlFromCacheControl) return routeTtl;
  return cacheControlTtl(head.headers['cache-control']) ?? routeTtl;
}
