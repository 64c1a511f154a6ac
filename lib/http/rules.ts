import type { OutgoingHttpHeaders } from 'node:http';
import { NEVER_STORED_FIELDS, type StoredHeaders, isReplayableStatus } from '../serializer';

/**
 * Headers never replayed from the store. Hop-by-hop fields describe one connection, not the
 * representation (RFC 9110 §7.6.1); `Set-Cookie` belongs to one user; `Age`, `Content-Length`
 * and `X-Cache` are recomputed for every answer. `Date` is kept: it says when the origin made
 * the answer (RFC 9110 §6.6.1), and a hit repeats it.
 */
const NOT_REPLAYED = new Set([...NEVER_STORED_FIELDS, 'age', 'content-length', 'x-cache']);

/** Methods whose answers a shared cache may reuse here: GET, and HEAD from the GET entry (RFC 9110 §9.3.2). */
export function isCacheableMethod(method: string): method is 'GET' | 'HEAD' {
  return method === 'GET' || method === 'HEAD';
}

/**
 * Splits a `Cache-Control` header into lower-case directive names and their values
 * (RFC 9111 §5.2). Quoted values are unquoted; a repeated directive keeps its first value.
 */
export function parseCacheControl(header: string | number | readonly string[] | undefined): Map<string, string | true> {
  const directives = new Map<string, string | true>();
  if (header === undefined) return directives;
  const text = Array.isArray(header) ? header.join(',') : String(header);
  for (const part of text.split(',')) {
    const [rawName, ...rest] = part.split('=');
    const name = rawName?.trim().toLowerCase();
    if (!name || directives.has(name)) continue;
    directives.set(name, rest.length === 0 ? true : rest.join('=').trim().replace(/^"(.*)"$/, '$1'));
  }
  return directives;
}

/** Why a response was not stored, or `undefined` when it may be. */
export type NotStorableReason = 'status' | 'set-cookie' | 'no-store' | 'private' | 'no-cache' | 'vary-star';

/**
 * Decides whether a shared cache may store a response:
 * - the status is one the route allows (200 by default), and never 1xx, 204 or 304;
 * - no `Set-Cookie`: a cookie is one user's, never everybody's;
 * - no `Cache-Control: no-store` (RFC 9111 §5.2.2.5) and no `private` (RFC 9111 §5.2.2.7);
 * - no `Cache-Control: no-cache` (RFC 9111 §5.2.2.4): it asks for revalidation before every
 *   reuse, which a replaying cache cannot do;
 * - no `Vary: *`, which no stored response can ever match (RFC 9111 §4.1).
 */
export function notStorableReason(
  status: number,
  headers: OutgoingHttpHeaders,
  allowedStatuses: ReadonlySet<number>,
): NotStorableReason | undefined {
  // 1xx, 204 and 304 are refused whatever `statuses` says: the decoder would refuse them on read.
  if (!allowedStatuses.has(status) || !isReplayableStatus(status)) return 'status';
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  const cacheControl = parseCacheControl(headers['cache-control']);
  if (cacheControl.has('no-store')) return 'no-store';
  if (cacheControl.has('private')) return 'private';
  if (cacheControl.has('no-cache')) return 'no-cache';
  const vary = headers.vary;
  if (vary !== undefined && String(vary).split(',').some((field) => field.trim() === '*')) return 'vary-star';
  return undefined;
}

/** The subset of a response's headers worth replaying, with numbers turned into strings. */
export function replayableHeaders(headers: OutgoingHttpHeaders): StoredHeaders {
  const stored: StoredHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_REPLAYED.has(name)) continue;
    stored[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return stored;
}

/** The `Age` of an entry in whole seconds (RFC 9111 §5.1), never negative. */
export function ageSeconds(createdAt: number, now: number): number {
  return Math.max(0, Math.floor((now - createdAt) / 1000));
}

/**
 * The freshness lifetime a response gives shared caches, in seconds: `s-maxage`
 * (RFC 9111 §5.2.2.10), else `max-age` (§5.2.2.1). `undefined` when it names neither or the value
 * is not a delta-seconds number (§1.2.2); `0` means "do not reuse".
 *
 * @example
 * ```ts
 * cacheControlTtl('max-age=30, s-maxage=120'); // 120
 * ```
 */
export function cacheControlTtl(header: string | number | readonly string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const directives = parseCacheControl(header);
  for (const name of ['s-maxage', 'max-age']) {
    const value = directives.get(name);
    if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * Whether a request asks caches not to answer it from storage: `Cache-Control: no-cache` or
 * `max-age=0` (RFC 9111 §5.2.1.4, §5.2.1.1), or, without a `Cache-Control`, `Pragma: no-cache`
 * (§5.4).
 *
 * @example
 * ```ts
 * requestsRevalidation(undefined, 'no-cache'); // true
 * ```
 */
export function requestsRevalidation(cacheControl: string | undefined, pragma: string | undefined): boolean {
  if (cacheControl !== undefined) {
    const directives = parseCacheControl(cacheControl);
    return directives.has('no-cache') || directives.get('max-age') === '0';
  }
  return pragma !== undefined && /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(pragma);
}
