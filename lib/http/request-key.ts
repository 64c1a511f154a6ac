import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import type { BypassReason } from '../engine/events';
import { apiKey, boundKey, countQueryParams } from '../keys';

// A request URL maps to one key, so recent ones are remembered: a memo hit skips parsing and
// hashing. Bounded by characters as well as by count, because hostile URLs can be as long as the
// server's header limit.
const KEY_MEMO_SIZE = 2_000;
const KEY_MEMO_CHARS = 2_000_000;

/** What a response key is computed from: the target URI as Express reports it, split. */
export interface RequestKeyInput {
  /** The endpoint in `api:{endpoint}:{hash}` (`keyPrefix`, else the route path). */
  endpoint: string;
  /** `req.protocol`: `http` or `https` (`X-Forwarded-Proto` under `trust proxy`). */
  protocol: string;
  /** `req.hostname`, without port (`X-Forwarded-Host` under `trust proxy`); undefined without a Host. */
  host: string | undefined;
  /** The path part of `req.originalUrl`, as sent. */
  path: string;
  /** Everything after the first `?` of `req.originalUrl` (`''` when there is none). */
  rawQuery: string;
}

/** The options of {@link requestKey}, resolved (see `CacheResponseOptions` for their meaning). */
export interface RequestKeyOptions {
  ignoreQuery: ((name: string) => boolean) | undefined;
  maxKeyLength: number;
  maxQueryLength: number;
  maxQueryParams: number;
  keyByHost: boolean;
}

/** A request's key, or why the request is not cached at all. */
export type RequestKeyResult = { key: string } | { bypass: Extract<BypassReason, 'query-too-long' | 'too-many-params'> };

/**
 * The response key of a request, or a bypass when its query is over a bound. The bounds are
 * checked first, in time independent of (length) or linear in (parameters) the query and
 * without decoding anything, so an oversized query costs next to nothing; a query within them is
 * keyed in one linear pass plus one SHA-1 (see `apiKey`).
 *
 * @example
 * ```ts
 * const opts = { ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 4096, maxQueryParams: 128, keyByHost: true };
 * requestKey({ endpoint: 'status', protocol: 'https', host: 'api.example.com', path: '/status', rawQuery: 'a=1' }, opts);
 * // { key: 'api:status:…' }
 * ```
 */
export function requestKey(input: RequestKeyInput, opts: RequestKeyOptions): RequestKeyResult {
  if (input.rawQuery.length > opts.maxQueryLength) return { bypass: 'query-too-long' };
  if (countQueryParams(input.rawQuery) > opts.maxQueryParams) return { bypass: 'too-many-params' };
  const target = { protocol: input.protocol, host: opts.keyByHost ? (input.host ?? '') : undefined };
  return { key: boundKey(apiKey(input.endpoint, input.path, input.rawQuery, opts.ignoreQuery, target), opts.maxKeyLength) };
}

/**
 * A memoised {@link requestKey} over Express requests, for one `cacheResponse` instance.
 *
 * @example
 * ```ts
 * const keyOf = requestKeyer(opts);
 * const result = keyOf(req, 'status');
 * if ('bypass' in result) res.setHeader('X-Cache', 'BYPASS');
 * ```
 */
export function requestKeyer(opts: RequestKeyOptions): (req: Request, endpoint: string) => RequestKeyResult {
  const memo = new LRUCache<string, string>({
    max: KEY_MEMO_SIZE,
    maxSize: KEY_MEMO_CHARS,
    sizeCalculation: (key, memoKey) => key.length + memoKey.length,
  });
  return (req, endpoint) => {
    const url = req.originalUrl;
    const queryAt = url.indexOf('?');
    const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
    // Bounds before the memo: an oversized query must not even cost a memo lookup on its length.
    if (rawQuery.length > opts.maxQueryLength) return { bypass: 'query-too-long' };
    const protocol = req.protocol;
    const host = opts.keyByHost ? (req.hostname ?? '') : '';
    // Newlines cannot occur in a request target, a host or a scheme, so they separate the parts.
    const memoKey = `${endpoint}\n${protocol}\n${host}\n${url}`;
    const known = memo.get(memoKey);
    if (known !== undefined) return { key: known };
    const result = requestKey({ endpoint, protocol, host, path: queryAt === -1 ? url : url.slice(0, queryAt), rawQuery }, opts);
    if ('key' in result) memo.set(memoKey, result.key);
    return result;
  };
}
