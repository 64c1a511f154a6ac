import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * The record stored under a URL's base key when its answers vary: the request header names that
 * select the variant. Each variant lives under `{base key}:v:{hash of those headers' values}`.
 *
 * @example
 * ```ts
 * const spec: VarySpec = { vary: ['accept-language'] };
 * ```
 */
export interface VarySpec {
  vary: string[];
}

/** Whether a stored value is a {@link VarySpec} this module wrote. *
 * @example
 * ```ts
 * isVarySpec({ vary: ['accept-language'] }); // true
 * ```
 */
export function isVarySpec(value: unknown): value is VarySpec {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as VarySpec).vary) &&
    (value as VarySpec).vary.every((name) => typeof name === 'string')
  );
}

/** The field names of a `Vary` header (RFC 9110 §12.5.5), lower-case, without duplicates. *
 * @example
 * ```ts
 * parseVary('Accept-Language, accept-language'); // ['accept-language']
 * ```
 */
export function parseVary(header: string | number | readonly string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : String(header);
  const names = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return [...names];
}

/** Whether a `Content-Encoding` header names a coding other than `identity`. *
 * @example
 * ```ts
 * isEncoded('gzip'); // true
 * isEncoded('identity'); // false
 * ```
 */
export function isEncoded(contentEncoding: string | number | readonly string[] | undefined): boolean {
  if (contentEncoding === undefined) return false;
  const text = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : String(contentEncoding)).trim().toLowerCase();
  return text !== '' && text !== 'identity';
}

/**
 * The request headers that select a stored response: the ones its `Vary` names, plus
 * `Accept-Encoding` whenever the stored bytes carry a `Content-Encoding`, so an encoded body is
 * only ever replayed to requests that sent the same kind of `Accept-Encoding` (RFC 9111 §4.1).
 * Sorted, so every process writes the same spec.
 *
 * @example
 * ```ts
 * responseVary({ vary: 'Accept-Language', 'content-encoding': 'gzip' }); // ['accept-encoding', 'accept-language']
 * ```
 */
export function responseVary(headers: OutgoingHttpHeaders): string[] {
  const names = parseVary(headers.vary);
  if (isEncoded(headers['content-encoding']) && !names.includes('accept-encoding')) names.push('accept-encoding');
  return names.sort();
}

const KNOWN_CODINGS = ['br', 'deflate', 'gzip', 'zstd'] as const;

/**
 * The codings an `Accept-Encoding` header accepts (RFC 9110 §12.5.3), among the common ones:
 * each listed with a non-zero `q`, or covered by a non-zero `*`. No header accepts none, so a
 * client that did not ask for compression is never sent compressed bytes.
 *
 * @example
 * ```ts
 * acceptedCodings('gzip;q=0, *'); // ['br', 'deflate', 'zstd']
 * ```
 */
export function acceptedCodings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : header;
  const q = new Map<string, number>();
  for (const part of text.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = rawName?.trim().toLowerCase();
    if (!name) continue;
    let weight = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
      if (match) weight = Number(match[1]);
    }
    if (!q.has(name)) q.set(name, Number.isNaN(weight) ? 0 : weight);
  }
  const star = q.get('*');
  return KNOWN_CODINGS.filter((coding) => (q.get(coding) ?? star ?? 0) > 0);
}

/** Whether `coding` (as in a stored `Content-Encoding`) may be sent to a request with this `Accept-Encoding`. *
 * @example
 * ```ts
 * acceptsCoding('gzip, br', 'gzip'); // true
 * ```
 */
export function acceptsCoding(header: string | string[] | undefined, coding: string): boolean {
  return (acceptedCodings(header) as string[]).includes(coding.trim().toLowerCase());
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A short, fixed-length digest of the values `names` take in a request. `Accept-Encoding` is
 * reduced to the codings it accepts, so `gzip, deflate, br` and `br, gzip, deflate` share a
 * variant. An absent header only matches an absent one (RFC 9111 §4.1).
 *
 * @example
 * ```ts
 * const variant = `${baseKey}:v:${varyDigest(['accept-language'], req.headers)}`;
 * ```
 */
export function varyDigest(names: readonly string[], headers: IncomingHttpHeaders): string {
  const values = names.map((name) =>
    name === 'accept-encoding' && headers['accept-encoding'] !== undefined ? acceptedCodings(headers['accept-encoding']).join(',') : headerText(headers[name]),
  );
  return createHash('sha1').update(JSON.stringify([names, values])).digest('hex');
}
