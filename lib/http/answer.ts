import type { IncomingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Request, Response } from 'express';
import type { ResponseEntry } from '../serializer';
import { NOT_MODIFIED_FIELDS, isNotModified } from './conditional';
import { rangeAnswer } from './range';
import { setStoredHeaders } from './replay-headers';
import { ageSeconds } from './rules';
import { acceptsCoding, isEncoded } from './vary';

// The "lookup and answer" stage: everything that writes a stored entry to a client.

const gunzip = promisify(zlib.gunzip);

/** What `X-Cache` says of an answer from the store. */
export type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'UNCACHEABLE';

/** A response's own `end`, when a wrapper around it must be bypassed. */
export type End = (this: Response, chunk?: unknown) => Response;

/** How an entry answered: its body (or a part of it), a 304, or not at all (`false`). */
export type Answered = 'sent' | 'not-modified' | false;

/** A body the cache compressed for storage, restored; undefined when it cannot be read (then it is a miss). */
async function gunzipStored(body: Buffer): Promise<Buffer | undefined> {
  try {
    return await gunzip(body);
  } catch {
    return undefined;
  }
}

/** Whether a stored answer may go to this request: encoded bytes only to clients that accept the coding. */
export function deliverable(entry: ResponseEntry, req: Request): boolean {
  return deliverableTo(entry, req.headers);
}

function deliverableTo(entry: ResponseEntry, headers: IncomingHttpHeaders): boolean {
  const coding = entry.headers['content-encoding'];
  if (!isEncoded(coding)) return true;
  return acceptsCoding(headers['accept-encoding'], String(coding));
}

/** Whether the request's preconditions turn this hit into a 304 (RFC 9110 §13.2.1: only over a 2xx). */
function notModified(headers: IncomingHttpHeaders, entry: ResponseEntry): boolean {
  if (headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined) return false;
  return entry.status >= 200 && entry.status < 300 && isNotModified(headers, entry.headers);
}

/** `Age` of a stored answer (RFC 9111 §5.1): its age on arrival plus the time it spent here. */
export function entryAge(entry: ResponseEntry, now: number): number {
  return (entry.age ?? 0) + ageSeconds(entry.createdAt, now);
}

/**
 * Sends `cacheControl` instead of the handler's header, on hits and on misses that will be
 * stored. A layer mounted outside the cache (a session middleware) can still add `Set-Cookie`
 * after this point; the handler's own `Cache-Control` is then put back, so a cookie-bearing
 * answer never goes out marked shareable (and such a miss is not stored).
 */
export function overrideCacheControl(res: Response, cacheControl: string, original: string | number | readonly string[] | undefined): void {
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

/** Sends a 304 from a stored entry; false (nothing sent or left set) when its headers are refused. */
function replayNotModified(res: Response, entry: ResponseEntry, cacheControl: string | undefined, status: CacheStatus, end?: End, ownField?: string): boolean {
  if (!setStoredHeaders(res, entry.headers, NOT_MODIFIED_FIELDS)) return false;
  if (ownField !== undefined && entry.headers[ownField] !== undefined) res.removeHeader(ownField);
  res.statusCode = 304;
  res.setHeader('X-Cache', status);
  res.setHeader('Age', String(entryAge(entry, Date.now())));
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  (end ?? (res.end as End)).call(res);
  return true;
}

/**
 * Sends a stored answer (or, for a `Range` GET of a stored 200, the part it asks for).
 * `end` is the response's own `end` when a wrapper must be bypassed. False (nothing sent, no
 * stored header left on `res`) when a stored header is refused. `ownField` (the route's
 * `cacheControlField`) is stored for this cache's decisions but never sent.
 */
export function replay(req: Request, res: Response, entry: ResponseEntry, body: Buffer, cacheControl: string | undefined, status: CacheStatus, end?: End, ownField?: string): boolean {
  return replayTo(req.method, req.headers, res, entry, body, cacheControl, status, end, ownField);
}

function replayTo(method: string, headers: IncomingHttpHeaders, res: Response, entry: ResponseEntry, body: Buffer, cacheControl: string | undefined, status: CacheStatus, end?: End, ownField?: string): boolean {
  if (!setStoredHeaders(res, entry.headers)) return false;
  if (ownField !== undefined && entry.headers[ownField] !== undefined) res.removeHeader(ownField);
  let statusCode = entry.status;
  let sent = body;
  if (headers.range !== undefined && entry.status === 200 && method === 'GET') {
    const range = rangeAnswer(headers, entry.headers, body.length);
    if (range.kind === 'partial') {
      statusCode = 206;
      sent = body.subarray(range.start, range.end + 1);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${body.length}`);
    } else if (range.kind === 'unsatisfiable') {
      statusCode = 416;
      sent = Buffer.alloc(0);
      res.setHeader('Content-Range', `bytes */${body.length}`);
    }
  }
  // Only when it differs: a store into an Express response (whose prototype was set per request)
  // costs about a microsecond even for the same value, and a stored 200 is the common case.
  if (res.statusCode !== statusCode) res.statusCode = statusCode;
  // Read once, as in setStoredHeaders (overrideCacheControl, which replaces it, comes after).
  const setHeader = res.setHeader;
  setHeader.call(res, 'X-Cache', status);
  setHeader.call(res, 'Age', String(entryAge(entry, Date.now())));
  setHeader.call(res, 'Content-Length', sent.length);
  if (cacheControl !== undefined) overrideCacheControl(res, cacheControl, entry.headers['cache-control']);
  const send = end ?? (res.end as End);
  if (method === 'HEAD') send.call(res);
  else send.call(res, sent);
  return true;
}

/**
 * Answers from an entry: 304 when the preconditions match, else the body. Returns false when
 * the entry cannot serve this request (an encoding it does not accept, an unreadable stored
 * body). Only gzip-stored bodies make it asynchronous, so a common hit stays synchronous.
 *
 * @example
 * ```ts
 * const sent = answerFrom(req, res, entry, 'HIT', undefined); // 'sent' | 'not-modified' | false | Promise
 * ```
 */
export function answerFrom(req: Request, res: Response, entry: ResponseEntry, status: CacheStatus, cacheControl: string | undefined, end?: End, ownField?: string): Answered | Promise<'sent' | false> {
  // Read once: on an Express request each property read is a lookup through its prototype chain.
  const { method, headers } = req;
  if (!deliverableTo(entry, headers)) return false;
  if (notModified(headers, entry)) return replayNotModified(res, entry, cacheControl, status, end, ownField) && 'not-modified';
  if (entry.bodyEncoding === undefined) return replayTo(method, headers, res, entry, entry.body, cacheControl, status, end, ownField) && 'sent';
  return gunzipStored(entry.body).then((body) => body !== undefined && replayTo(method, headers, res, entry, body, cacheControl, status, end, ownField) && 'sent');
}

/** A rate-limited miss with nothing stale to stand in: 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3). */
export function tooManyRequests(res: Response, retryAfterMs: number): void {
  res.statusCode = 429;
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Cache', 'MISS');
  res.end('Too Many Requests');
}
