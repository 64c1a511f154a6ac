import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { StoredHeaders } from '../serializer';

/**
 * A strong entity tag for `body` (RFC 9110 §8.8.3): the base64url SHA-1 of the bytes in quotes.
 * It depends on the bytes only, so every process holding the same entry sends the same tag.
 * Computed once when an entry is stored, never on a hit.
 *
 * @example
 * ```ts
 * bodyEtag(Buffer.from('hello')); // '"qvTGHdzF6KLavt4PO0gs2a6pQ00"'
 * ```
 */
export function bodyEtag(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * Whether an `If-None-Match` list matches `etag` under the weak comparison that RFC 9110
 * §13.1.2 prescribes for it (`W/"x"` matches `"x"`); `*` matches any current representation.
 *
 * @example
 * ```ts
 * ifNoneMatchMatches('W/"a", "b"', '"a"'); // true
 * ```
 */
export function ifNoneMatchMatches(ifNoneMatch: string, etag: string): boolean {
  const trimmed = ifNoneMatch.trim();
  if (trimmed === '*') return true;
  const wanted = opaqueTag(etag);
  // Entity tags cannot contain commas (RFC 9110 §8.8.3), so splitting on them is exact.
  for (const candidate of trimmed.split(',')) {
    if (opaqueTag(candidate.trim()) === wanted) return true;
  }
  return false;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Whether a GET/HEAD request's preconditions let the cache answer `304 Not Modified` for a stored
 * response (RFC 9110 §13.2.2): `If-None-Match` decides when present (§13.1.2); otherwise
 * `If-Modified-Since` is compared with the stored `Last-Modified` (§13.1.3), and an unparsable
 * date is ignored.
 *
 * @example
 * ```ts
 * isNotModified({ 'if-none-match': '"a"' }, { etag: '"a"' }); // true
 * ```
 */
export function isNotModified(request: IncomingHttpHeaders, stored: StoredHeaders): boolean {
  const ifNoneMatch = request['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const etag = single(stored.etag);
    return etag !== undefined && ifNoneMatchMatches(ifNoneMatch, etag);
  }
  const ifModifiedSince = request['if-modified-since'];
  const lastModified = single(stored['last-modified']);
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const modified = Date.parse(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/**
 * The stored fields a 304 repeats (RFC 9110 §15.4.5): the validators and the fields that would
 * have been sent with a 200, minus representation metadata such as `Content-Type`.
 *
 * @example
 * ```ts
 * for (const name of NOT_MODIFIED_FIELDS) if (stored[name] !== undefined) res.setHeader(name, stored[name]);
 * ```
 */
export const NOT_MODIFIED_FIELDS: readonly string[] = ['date', 'etag', 'last-modified', 'cache-control', 'expires', 'vary', 'content-location'];
