import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseEntry, StoredHeaders } from '../serializer';
import { bodyEtag } from './conditional';
import { hasValidator } from './freshness';
import { replayableHeaders } from './rules';

// Revalidation (RFC 9111 §4.3): a stale entry with a validator is checked with the origin by a
// conditional request, and a 304 freshens it instead of sending the body again.

/** Fields a 304 may not change in the stored answer: they describe its body (RFC 9111 §3.2). */
const BODY_FIELDS = new Set(['content-length', 'content-encoding', 'content-type', 'content-range', 'transfer-encoding']);

/**
 * The conditional headers that ask the origin whether `entry` is still current (RFC 9110
 * §13.1.2, §13.1.3); `undefined` when it has no validator, or when its body is stored in a form
 * this layer would have to decode first.
 *
 * @example
 * ```ts
 * validatorsOf(entry); // { 'if-none-match': '"abc"' }
 * ```
 */
export function validatorsOf(entry: ResponseEntry): IncomingHttpHeaders | undefined {
  if (entry.status !== 200 || !hasValidator(entry.headers)) return undefined;
  const out: IncomingHttpHeaders = {};
  const etag = entry.headers.etag;
  const lastModified = entry.headers['last-modified'];
  // An ETag the cache computed itself (the handler sent none) means nothing to the handler, and
  // Express' `req.fresh` would let it outweigh a matching If-Modified-Since: not sent.
  const own = etag !== undefined && entry.bodyEncoding === undefined && etag === bodyEtag(entry.body);
  if (etag !== undefined && !own) out['if-none-match'] = Array.isArray(etag) ? etag.join(', ') : etag;
  if (lastModified !== undefined) out['if-modified-since'] = Array.isArray(lastModified) ? lastModified[0] : lastModified;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The stored headers freshened by a 304's (RFC 9111 §3.2, §4.3.4): every field the 304 carries
 * replaces the stored one, except those describing the body.
 *
 * @example
 * ```ts
 * freshenedHeaders({ etag: '"a"', 'cache-control': 'max-age=1' }, { 'cache-control': 'max-age=60' });
 * ```
 */
export function freshenedHeaders(stored: StoredHeaders, notModified: OutgoingHttpHeaders): StoredHeaders {
  const headers: StoredHeaders = { ...stored };
  for (const [name, value] of Object.entries(replayableHeaders(notModified))) {
    if (!BODY_FIELDS.has(name)) headers[name] = value;
  }
  return headers;
}

/**
 * Watches the handler's answer to a revalidation: when it is a `304` whose head has not left,
 * the 304 is discarded and `freshen(headers)` is called with its headers and the response's
 * own `end`, to answer from the stored body. Other answers go out untouched. After the swap the
 * handler's further writes go nowhere.
 */
export function onNotModified(res: ServerResponse, freshen: (headers: OutgoingHttpHeaders, end: ServerResponse['end']) => void): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end };
  let decided = false;
  const swapped = (status: number, passed: OutgoingHttpHeaders | undefined): boolean => {
    if (decided) return false;
    decided = true;
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
    if (status !== 304 || res.headersSent) return false;
    const headers = { ...res.getHeaders(), ...passed };
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.write = (() => true) as ServerResponse['write'];
    res.end = function discard(this: ServerResponse) {
      return this;
    } as ServerResponse['end'];
    freshen(headers, original.end);
    return true;
  };
  res.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]): ServerResponse {
    const last = args[args.length - 1];
    const passed = last !== null && typeof last === 'object' && !Array.isArray(last) ? (last as OutgoingHttpHeaders) : undefined;
    if (swapped(Number(args[0]), passed)) return this;
    return (original.writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  res.write = function write(this: ServerResponse, ...args: unknown[]): boolean {
    if (swapped(this.statusCode, undefined)) return true;
    return (original.write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse['write'];
  res.end = function end(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (swapped(this.statusCode, undefined)) return this;
    return (original.end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['end'];
}
