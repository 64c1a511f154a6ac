import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import type { UncacheableReason } from '../engine/events';
import type { EntryWrite, LoadContext, Loaded } from '../engine/fill';
import type { ResponseEntry, ValueEntry } from '../serializer';
import { resolveTags } from '../validate';
import { type End, answerFrom, deliverable, overrideCacheControl, replay } from './answer';
import { captureResponse } from './capture';
import { bodyEtag, isNotModified } from './conditional';
import { hasValidator } from './freshness';
import { nextAdaptiveTtl } from '../refresh/adaptive';
import { type Answer, answerOf, variantKey } from './lookup';
import type { ResolvedCacheResponseOptions } from './options';
import { requestSource } from './response-entry';
import { freshenedHeaders, onNotModified, validatorsOf } from './revalidate';
import { replayableHeaders } from './rules';
import { routeTags } from './scope-tags';
import { guardWithStale } from './stale-guard';
import { type Storability, storability } from './storability';
import { pathTag, requestPath } from './unsafe';
import { type VarySpec, isEncoded, responseVary } from './vary';

// The "fill and store" stage: the loader the fill protocol runs on a miss. It runs the handler,
// lets its answer through to the client, decides (by the one storability rule) whether and how
// long it is stored, and hands the protocol the writes.

// Async zlib: a 1 MiB body must not stall every other request on the event loop.
const gzip = promisify(zlib.gzip);

/**
 * How long an entry with a validator is kept past its lifetime, in ms, so that a request after
 * it went stale can revalidate it (a 304) instead of fetching the body again. Never served
 * without that check.
 */
export const REVALIDATION_KEEP_MS = 3_600_000;

/** How long a fill whose client left and whose handler never ended is kept, in ms. */
const ABANDONED_FILL_MS = 30_000;

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

function emptyEntry(): ResponseEntry {
  return { kind: 'response', status: 500, headers: {}, body: Buffer.alloc(0), createdAt: 0, expiresAt: 0 };
}

/** What a fill of one request works with. */
export interface LoadInput {
  opts: ResolvedCacheResponseOptions;
  baseKey: string;
  req: Request;
  res: Response;
  next: NextFunction;
  /** The route TTL in seconds, `undefined` under `ttl: 'origin'`. */
  routeTtl: number | undefined;
  context: LoadContext<Answer>;
  /** A stale entry of this request's variant to revalidate, when it has a validator. */
  stale: Answer | undefined;
  /** Set to why the answer was not stored. */
  noted: { reason: UncacheableReason | undefined };
  /** With `debug`, says why on the answer. */
  explain(reason: UncacheableReason): void;
  /** The entry found before this fill (fresh or stale), which `adaptiveTtl` compares with. */
  previous?: ResponseEntry | undefined;
}

/** Whether a new answer is the stored one again: the same `ETag`, else the same body. */
function unchangedFrom(previous: ResponseEntry, status: number, headers: OutgoingHttpHeaders, body: Buffer): boolean {
  if (previous.status !== status) return false;
  const before = previous.headers.etag;
  if (before !== undefined && headers.etag !== undefined) return String(before) === String(headers.etag);
  return previous.bodyEncoding === undefined && previous.body.equals(body);
}

/** `input` with the route TTL `adaptiveTtl` gives this answer (as it is when the route has none). */
function withAdaptiveTtl(input: LoadInput, unchanged: (previous: ResponseEntry) => boolean): LoadInput {
  const rule = input.opts.refresh.adaptive;
  if (rule === undefined || input.routeTtl === undefined) return input;
  const { previous } = input;
  const previousSeconds = previous === undefined ? undefined : (previous.expiresAt - previous.createdAt) / 1000;
  return { ...input, routeTtl: nextAdaptiveTtl(rule, input.routeTtl, previousSeconds, previous !== undefined && unchanged(previous)) };
}

/** How long the store keeps an entry past its lifetime: longer when the handler gave it a validator. */
function keepMs(opts: ResolvedCacheResponseOptions, revalidatable: boolean): number {
  return revalidatable ? Math.max(opts.freshness.graceMs, REVALIDATION_KEEP_MS) : opts.freshness.graceMs;
}

/** The entries storing `stored` (the answer, possibly compressed): the variant, and the Vary record beside it. */
function writesOf(input: LoadInput, stored: ResponseEntry, vary: readonly string[], ttlSeconds: number, tags: readonly string[] | undefined, revalidatable: boolean): EntryWrite[] {
  const { baseKey, req, opts } = input;
  const graceMs = keepMs(opts, revalidatable);
  if (vary.length === 0) return [{ key: baseKey, entry: stored, ttlSeconds, tags, graceMs }];
  const record: VarySpec = { vary: [...vary] };
  const recordEntry: ValueEntry = { kind: 'value', value: record, createdAt: stored.createdAt, expiresAt: stored.expiresAt };
  // The record is written with its variant: waiters released after this write find both.
  return [
    { key: baseKey, entry: recordEntry, ttlSeconds, tags, graceMs },
    { key: variantKey(baseKey, vary, req), entry: stored, ttlSeconds, tags, graceMs },
  ];
}

/** The entries that store an answer, compressing the body first when the route asks for it. */
function writesFor(input: LoadInput, entry: ResponseEntry, vary: readonly string[], ttlSeconds: number, tags: readonly string[] | undefined, revalidatable: boolean): EntryWrite[] | Promise<EntryWrite[]> {
  const over = input.opts.compressStoredBodiesOver;
  if (over > 0 && entry.bodyEncoding === undefined && entry.body.length >= over && !isEncoded(entry.headers['content-encoding'])) {
    return gzip(entry.body).then((body) => writesOf(input, { ...entry, body, bodyEncoding: 'gzip' }, vary, ttlSeconds, tags, revalidatable));
  }
  // Synchronous unless compressing: an ordinary miss takes no promise here.
  return writesOf(input, entry, vary, ttlSeconds, tags, revalidatable);
}

/** The tags a stored answer gets: the route's, its scope's, and its path's (for writes to it). */
function tagsOf(input: LoadInput): readonly string[] {
  const own = resolveTags('tags', routeTags(input.opts, input.req)) ?? [];
  return [...own, pathTag(requestPath(input.req))];
}

/**
 * The one storability rule applied to an answer once it ended: on what the handler sent, then
 * on the final headers, since layers outside this one (a session, a security header
 * middleware) may have added a cookie or a `no-store` after the handler's head was taken.
 */
function finalStorability(input: LoadInput, status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined, now: number): Storability {
  const rule = { statuses: input.opts.statuses, routeTtl: input.routeTtl, explicitOnly: input.opts.explicitOnly, cacheControlField: input.opts.cacheControlField };
  const own = storability(status, headers, body, rule, now);
  if (!own.storable) return own;
  const { res } = input;
  // Only the fields the rule reads, rather than a copy of every header on each miss.
  const final = { ...headers, 'set-cookie': res.getHeader('set-cookie'), 'cache-control': res.getHeader('cache-control') ?? headers['cache-control'], vary: res.getHeader('vary') ?? headers.vary } as OutgoingHttpHeaders;
  if (input.opts.cacheControl !== undefined && final['cache-control'] === input.opts.cacheControl) final['cache-control'] = headers['cache-control'];
  return storability(status, final, body, rule, now);
}

/** Resolves a loaded answer: stored (with its writes) or only shared, per `verdict`. */
function settle(input: LoadInput, resolve: (loaded: Loaded<Answer>) => void, entry: ResponseEntry, vary: readonly string[], verdict: Storability, shareError: boolean, revalidatable: boolean): void {
  const { noted, req } = input;
  let tags: readonly string[] | undefined;
  if (verdict.storable) {
    try {
      // The route's own tags and its scope tags; checked here, so a bad list cannot fail the write.
      tags = tagsOf(input);
    } catch {
      noted.reason = 'tags-threw'; // a failing tag function leaves the answer uncached rather than untagged
    }
  } else {
    noted.reason = verdict.reason;
  }
  const value = answerOf(entry, vary, req, noted.reason === undefined);
  if (noted.reason !== undefined || !verdict.storable) {
    // An origin error goes to the requests that waited for it (not stored); a personal
    // answer (a cookie) or one the client may not share goes to nobody else.
    resolve({ kind: 'value', value, share: shareError });
    return;
  }
  const writes = writesFor(input, entry, vary, verdict.lifetime, tags, revalidatable);
  if (Array.isArray(writes)) resolve({ kind: 'value', value, share: true, writes });
  else {
    writes.then(
      (compressed) => resolve({ kind: 'value', value, share: true, writes: compressed }),
      () => resolve({ kind: 'value', value, share: true }),
    );
  }
}

/**
 * The loader of a fill: runs the handler for this request, lets its answer through to the
 * client, and resolves with what was captured once the answer has left. With a stale entry to
 * revalidate, the handler gets its validators; a 304 freshens the entry and the client is
 * answered from the stored body.
 */
export function runHandler(input: LoadInput): Promise<Loaded<Answer>> {
  const { opts, req, res, next, context } = input;
  return new Promise((resolve) => {
    const conditionals = takeConditionals(req);
    const validators = input.stale === undefined ? undefined : validatorsOf(input.stale.entry);
    if (validators !== undefined) Object.assign(req.headers, validators);
    const restoreConditionals = (): void => {
      if (validators !== undefined) for (const name of Object.keys(validators)) delete req.headers[name];
      if (conditionals !== undefined) Object.assign(req.headers, conditionals);
    };
    let ended = false;
    // `on`, not `once`: 'close' is emitted once, and once() would add a bound wrapper per miss.
    res.on('close', () => {
      // A handler that never ends must not hold its waiters (they take over after waitMs) nor
      // this fill forever; one that ends after its client left still stores its answer.
      if (!ended) setTimeout(() => resolve({ kind: 'value', value: answerOf(emptyEntry(), [], req, false), share: false }), ABANDONED_FILL_MS).unref();
    });
    captureResponse(res, opts.maxBodyBytes, {
      onHead: (head) => {
        const verdict = storability(head.status, head.headers, null, { statuses: opts.statuses, routeTtl: input.routeTtl, explicitOnly: opts.explicitOnly, cacheControlField: opts.cacheControlField }, Date.now());
        // The targeted field is for this cache alone: captured (and stored), never sent.
        if (opts.cacheControlField !== undefined && head.headers[opts.cacheControlField] !== undefined) res.removeHeader(opts.cacheControlField);
        if (!verdict.storable) input.explain(verdict.reason);
        if (opts.cacheControl !== undefined && verdict.storable) overrideCacheControl(res, opts.cacheControl, head.headers['cache-control']);
        // The client asked conditionally: answer its condition from the full answer.
        if (conditionals !== undefined && head.status >= 200 && head.status < 300 && isNotModified(conditionals, replayableHeaders(head.headers))) return 'not-modified';
        return undefined;
      },
      onEnd: (captured) => {
        ended = true;
        restoreConditionals();
        const now = Date.now();
        const headers = replayableHeaders(captured.headers);
        // RFC 9110 §6.6.1: Date is when the origin made the answer; hits repeat it.
        headers.date ??= new Date(now).toUTCString();
        const body = captured.body ?? Buffer.alloc(0);
        if (captured.body !== undefined) headers.etag ??= bodyEtag(body);
        const sized = withAdaptiveTtl(input, (previous) => unchangedFrom(previous, captured.status, headers, body));
        const verdict = finalStorability(sized, captured.status, captured.headers, captured.body, now);
        const lifetime = verdict.storable ? verdict.lifetime : 0;
        const entry: ResponseEntry = { kind: 'response', status: captured.status, headers, body, createdAt: now, expiresAt: now + lifetime * 1000, source: requestSource(req) };
        if (verdict.storable && verdict.age > 0) entry.age = verdict.age;
        const shareError = captured.status >= 500 && captured.headers['set-cookie'] === undefined && captured.body !== undefined;
        // Only the handler's own validators make a revalidation worth keeping the entry for.
        settle(sized, resolve, entry, responseVary(captured.headers), verdict, shareError, hasValidator(captured.headers));
      },
    });
    // Stale-if-error: only an answer this request can take as it is (no gzip to undo mid-response).
    const fallback = context.staleIfError()?.entry;
    if (fallback && fallback.bodyEncoding === undefined && deliverable(fallback, req)) {
      guardWithStale(res, (end) => {
        resolve({ kind: 'stale' });
        // The origin's 5xx is already discarded: a stale entry that cannot be replayed ends bare.
        if (!replay(req, res, fallback, fallback.body, opts.cacheControl, 'STALE', end as End, opts.cacheControlField)) {
          res.statusCode = 500;
          (end as End).call(res);
        }
      });
    }
    const stale = input.stale;
    if (validators !== undefined && stale !== undefined) {
      onNotModified(res, (notModifiedHeaders, end) => {
        ended = true;
        restoreConditionals();
        const now = Date.now();
        // The 304 is dated now (Node would have added its Date on the way out).
        const headers = freshenedHeaders(stale.entry.headers, { date: new Date(now).toUTCString(), ...notModifiedHeaders });
        // A 304: the answer did not change.
        const sized = withAdaptiveTtl(input, () => true);
        const verdict = finalStorability(sized, stale.entry.status, headers, stale.entry.body, now);
        const lifetime = verdict.storable ? verdict.lifetime : 0;
        const entry: ResponseEntry = { ...stale.entry, headers, createdAt: now, expiresAt: now + lifetime * 1000 };
        delete entry.age;
        if (verdict.storable && verdict.age > 0) entry.age = verdict.age;
        settle(sized, resolve, entry, stale.vary, verdict, false, true);
        const sent = answerFrom(req, res, entry, 'MISS', opts.cacheControl, end as End, opts.cacheControlField);
        if (sent === false) {
          res.statusCode = 500;
          (end as End).call(res);
        } else if (sent !== 'sent' && sent !== 'not-modified') {
          void sent.then((ok) => {
            if (ok === false) {
              res.statusCode = 500;
              (end as End).call(res);
            }
          });
        }
      });
    }
    res.setHeader('X-Cache', 'MISS');
    next();
  });
}
