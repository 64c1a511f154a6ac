import type { IncomingHttpHeaders } from 'node:http';
import type { StoredHeaders } from '../serializer';

/** What a `Range` request gets from a stored full answer of `length` bytes. */
export type RangeAnswer =
  /** The whole answer (no range, an unusable one, or a failed `If-Range`): RFC 9110 §14.2 lets a cache ignore it. */
  | { kind: 'full' }
  /** `206 Partial Content` with bytes `start`..`end` inclusive (§15.3.7). */
  | { kind: 'partial'; start: number; end: number }
  /** `416 Range Not Satisfiable` (§15.5.17). */
  | { kind: 'unsatisfiable' };

const FULL: RangeAnswer = Object.freeze({ kind: 'full' });
const SINGLE_BYTE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Whether `If-Range` lets the range apply (RFC 9110 §13.1.5): an entity tag must equal the
 * stored `ETag` under the strong comparison (a weak tag never matches), a date must equal the
 * stored `Last-Modified` exactly.
 */
function ifRangeHolds(ifRange: string, stored: StoredHeaders): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    const etag = single(stored.etag);
    return etag !== undefined && !value.startsWith('W/') && !etag.startsWith('W/') && etag === value;
  }
  const lastModified = single(stored['last-modified']);
  return lastModified !== undefined && !Number.isNaN(Date.parse(value)) && Date.parse(lastModified) === Date.parse(value);
}

/**
 * How a GET for a stored `200` of `length` bytes is answered under its `Range` and `If-Range`
 * (RFC 9110 §14): one byte range gives a 206, a range starting past the end a 416; anything
 * else (several ranges, another unit, bad syntax, a failed `If-Range`) the full answer.
 *
 * @example
 * ```ts
 * rangeAnswer({ range: 'bytes=0-4' }, {}, 10); // { kind: 'partial', start: 0, end: 4 }
 * rangeAnswer({ range: 'bytes=20-' }, {}, 10); // { kind: 'unsatisfiable' }
 * ```
 */
export function rangeAnswer(request: IncomingHttpHeaders, stored: StoredHeaders, length: number): RangeAnswer {
  const range = request.range;
  if (range === undefined) return FULL;
  const match = SINGLE_BYTE_RANGE.exec(range);
  if (match === null) return FULL;
  const ifRange = single(request['if-range']);
  if (ifRange !== undefined && !ifRangeHolds(ifRange, stored)) return FULL;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return FULL;
  if (first === '') {
    // A suffix range: the last N bytes (§14.1.2); "-0" can select nothing.
    const suffix = Number(last);
    if (suffix === 0 || length === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  const end = last === '' ? length - 1 : Number(last);
  if (last !== '' && end < start) return FULL;
  if (start >= length) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, length - 1) };
}
