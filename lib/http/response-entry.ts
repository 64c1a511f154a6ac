import type { Cache, SetOptions } from '../engine/cache';
import { type RequestSource, type ResponseEntry, type StoredHeaders, isStorableResponse } from '../serializer';
import type { Request } from 'express';

/** A response to store with {@link setResponse}. */
export interface CachedResponseInput {
  status: number;
  headers: StoredHeaders;
  body: Buffer;
  /** Set when `body` was gzip-compressed for storage only (see `ResponseEntry.bodyEncoding`). */
  bodyEncoding?: 'gzip';
  /** The request it answers, shown by the dashboard and the CLI (see `ResponseEntry.source`). */
  source?: RequestSource;
}

// A request line can be long (Node accepts 16 KB of headers); the source is for reading, so a
// stored entry never carries more than this of it.
const MAX_SOURCE_CHARS = 2_048;

/**
 * The request a stored answer came from, for `ResponseEntry.source`: method, the path of
 * `req.originalUrl` (mount path included) and its raw query, each cut to 2 KB.
 *
 * @example
 * ```ts
 * requestSource(req); // { method: 'GET', path: '/characters/1', query: 'lang=en' }
 * ```
 */
export function requestSource(req: Pick<Request, 'method' | 'originalUrl'>): RequestSource {
  const url = req.originalUrl;
  const at = url.indexOf('?');
  return {
    method: req.method,
    path: (at === -1 ? url : url.slice(0, at)).slice(0, MAX_SOURCE_CHARS),
    query: at === -1 ? '' : url.slice(at + 1, at + 1 + MAX_SOURCE_CHARS),
  };
}

/**
 * Reads the fresh HTTP response stored under `key` (without namespace, e.g. `api:status:3f2a…`),
 * or `undefined`. Vary records are not followed: pass a variant's key for those.
 *
 * @example
 * ```ts
 * const entry = await getResponse(cache, 'api:status:3f2a...');
 * if (entry) console.log(entry.status, entry.headers['content-type']);
 * ```
 */
export async function getResponse(cache: Cache, key: string): Promise<ResponseEntry | undefined> {
  const found = await cache.peek(key);
  return found && !found.stale && found.entry.kind === 'response' ? found.entry : undefined;
}

/**
 * Stores an HTTP response as `cacheResponse` would serve it; resolves `false` when the store
 * failed, `generation` says an invalidation overtook it, or the response may never be replayed
 * (a 1xx, 204 or 304 status, a hop-by-hop field or `set-cookie`: the decoder refuses those on read).
 *
 * @example
 * ```ts
 * await setResponse(cache, 'api:status:manual', { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('ok') }, { ttl: 60 });
 * ```
 */
export function setResponse(cache: Cache, key: string, response: CachedResponseInput, options: SetOptions = {}): Promise<boolean> {
  if (!isStorableResponse(response.status, response.headers)) return Promise.resolve(false);
  return cache.setEntry(key, { kind: 'response', ...response }, options);
}
