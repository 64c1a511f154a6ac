import { optionNames, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';
import type { PurgeHook } from './purge';
import { type PurgeAdapterOptions, batches, postJson, purgesEverything, requiredToken, resolveAdapterOptions } from './request';

/** Options of {@link fastlyPurge}. */
export interface FastlyPurgeOptions extends PurgeAdapterOptions {
  /** The Fastly service whose cache is purged. */
  serviceId: string;
  /** An API token with purge rights (sent as `Fastly-Key`). */
  token: string;
  /**
   * The API's base URL (a stand-in server in tests).
   * @default 'https://api.fastly.com'
   */
  apiUrl?: string;
  /**
   * Surrogate keys per call (Fastly takes up to 256).
   * @default 256
   */
  batchSize?: number;
}

const FASTLY_OPTION_NAMES = optionNames<FastlyPurgeOptions>({ serviceId: true, token: true, apiUrl: true, batchSize: true, purgeEverything: true, timeoutMs: true });

/**
 * A `purge` hook for Fastly: each invalidation's surrogate keys are purged with
 * `POST /service/{serviceId}/purge` (`{ "surrogate_keys": [...] }`, at most `batchSize` a
 * call), as a soft purge (`Fastly-Soft-Purge: 1`: marked stale, so Fastly can still serve it
 * stale while it refetches) when the invalidation was soft. Key, pattern and clear
 * invalidations become `POST /service/{serviceId}/purge_all` with `purgeEverything`, else are
 * not sent. A call that fails or answers outside 2xx rejects, and the cache retries it.
 *
 * @example
 * ```ts
 * const cache = createCache({
 *   purge: fastlyPurge({ serviceId: process.env.FASTLY_SERVICE_ID ?? 'service', token: process.env.FASTLY_TOKEN ?? 'token' }),
 * });
 * ```
 */
export function fastlyPurge(options: FastlyPurgeOptions): PurgeHook {
  plainObject('fastlyPurge options', options);
  rejectUnknownOptions('fastlyPurge', options, FASTLY_OPTION_NAMES);
  const serviceId = encodeURIComponent(requiredToken('serviceId', options.serviceId));
  const token = requiredToken('token', options.token);
  const resolved = resolveAdapterOptions('fastlyPurge', options, 'https://api.fastly.com');
  const batchSize = Math.min(256, positiveInteger('batchSize', options.batchSize, 256));
  const base = `${resolved.apiUrl}/service/${serviceId}`;
  return async (request) => {
    if (purgesEverything(request, resolved)) {
      await postJson(`${base}/purge_all`, { 'fastly-key': token }, undefined, resolved.timeoutMs);
      return;
    }
    const headers: Record<string, string> = { 'fastly-key': token };
    if (request.soft) headers['fastly-soft-purge'] = '1';
    for (const keys of batches(request.surrogateKeys, batchSize)) {
      await postJson(`${base}/purge`, headers, { surrogate_keys: keys }, resolved.timeoutMs);
    }
  };
}
