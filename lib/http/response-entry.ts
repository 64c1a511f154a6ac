import type { Cache, SetOptions } from '../engine/cache';
import { type ResponseEntry, type StoredHeaders, isStorableResponse } from '../serializer';

/** A response to store with {@link setResponse}. */
export interface CachedResponseInput {
  status: number;
  headers: StoredHeaders;
  body: Buffer;
  /** Set when `body` was gzip-compressed for storage only (see `ResponseEntry.bodyEncoding`). */
  bodyEncoding?: 'gzip';
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
