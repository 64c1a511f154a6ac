import { InvalidOptionError } from '../errors';
import { optionNames, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';
import type { PurgeHook, PurgeRequest } from './purge';
import { type PurgeAdapterOptions, batches, postJson, purgesEverything, requiredToken, resolveAdapterOptions } from './request';

/** Options of {@link cloudflarePurge}. */
export interface CloudflarePurgeOptions extends PurgeAdapterOptions {
  /** The Cloudflare zone whose cache is purged. */
  zoneId: string;
  /** An API token with the Cache Purge permission (sent as `Authorization: Bearer`). */
  token: string;
  /**
   * The API's base URL (a stand-in server in tests).
   * @default 'https://api.cloudflare.com/client/v4'
   */
  apiUrl?: string;
  /**
   * The public URLs an invalidation covers, purged by URL (`files`) besides its tags: how the
   * app's invalidations map to its pages, e.g. a scope id to `https://www.example.com/characters/{id}`.
   * @default none (tags only)
   */
  urlsFor?: (request: PurgeRequest) => readonly string[];
  /**
   * Tags or URLs per call (Cloudflare takes 30 on most plans, 100 or more on Enterprise).
   * @default 30
   */
  batchSize?: number;
}

const CLOUDFLARE_OPTION_NAMES = optionNames<CloudflarePurgeOptions>({
  zoneId: true,
  token: true,
  apiUrl: true,
  urlsFor: true,
  batchSize: true,
  purgeEverything: true,
  timeoutMs: true,
});

/**
 * A `purge` hook for Cloudflare: `POST /zones/{zoneId}/purge_cache` with the invalidation's
 * surrogate keys as `{ "tags": [...] }` (what `surrogateKeys: { cacheTag: true }` sends in
 * `Cache-Tag`), and the URLs of `urlsFor` as `{ "files": [...] }`, at most `batchSize` a call.
 * Cloudflare has no soft purge: a soft invalidation purges. Key, pattern and clear
 * invalidations become `{ "purge_everything": true }` with `purgeEverything`, else only their
 * `urlsFor` URLs are sent. A failed call (or `"success": false`) rejects, and the cache retries it.
 *
 * @example
 * ```ts
 * const cache = createCache({
 *   purge: cloudflarePurge({
 *     zoneId: process.env.CLOUDFLARE_ZONE_ID ?? 'zone',
 *     token: process.env.CLOUDFLARE_TOKEN ?? 'token',
 *     urlsFor: (request) => (request.scope === 'character' && request.id ? [`https://www.example.com/characters/${request.id}`] : []),
 *   }),
 * });
 * ```
 */
export function cloudflarePurge(options: CloudflarePurgeOptions): PurgeHook {
  plainObject('cloudflarePurge options', options);
  rejectUnknownOptions('cloudflarePurge', options, CLOUDFLARE_OPTION_NAMES);
  const zoneId = encodeURIComponent(requiredToken('zoneId', options.zoneId));
  const token = requiredToken('token', options.token);
  const resolved = resolveAdapterOptions('cloudflarePurge', options, 'https://api.cloudflare.com/client/v4');
  const batchSize = positiveInteger('batchSize', options.batchSize, 30);
  const { urlsFor } = options;
  if (urlsFor !== undefined && typeof urlsFor !== 'function') throw new InvalidOptionError('urlsFor', 'expected a function (request) => string[]');
  const url = `${resolved.apiUrl}/zones/${zoneId}/purge_cache`;
  const headers = { authorization: `Bearer ${token}` };
  const call = async (body: Record<string, unknown>): Promise<void> => {
    const answer = await postJson(url, headers, body, resolved.timeoutMs);
    if (answer !== null && typeof answer === 'object' && (answer as { success?: unknown }).success === false) {
      throw new Error(`${url} refused the purge: ${JSON.stringify((answer as { errors?: unknown }).errors ?? answer).slice(0, 200)}`);
    }
  };
  return async (request) => {
    if (purgesEverything(request, resolved)) {
      await call({ purge_everything: true });
      return;
    }
    for (const tags of batches(request.surrogateKeys, batchSize)) await call({ tags });
    const urls = urlsFor?.(request) ?? [];
    for (const files of batches(urls, batchSize)) await call({ files });
  };
}
