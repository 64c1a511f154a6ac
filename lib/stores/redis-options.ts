import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../errors';
import { nonNegativeInteger, optionNames, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';

/** Options of {@link RedisStore}: exactly one of `client` or `url`. */
export interface RedisStoreOptions {
  /** A connected ioredis `Redis` or `Cluster` you own; the store never closes it. */
  client?: Redis | Cluster;
  /**
   * A `redis://` or `rediss://` URL; the store creates and owns a client with cache-safe
   * settings. `undefined` counts as not given, so `{ url: process.env.REDIS_URL }` type-checks
   * under `exactOptionalPropertyTypes` (and throws at construction when the variable is unset).
   */
  url?: string | undefined;
  /** Extra ioredis options for the client created from `url` (they override the cache-safe defaults). */
  redisOptions?: RedisOptions;
  /**
   * How long one store operation may take before it counts as failed, in milliseconds.
   * @default 100
   */
  operationTimeoutMs?: number;
  /**
   * The `COUNT` hint of each `SCAN` step in pattern deletes.
   * @default 1000
   */
  scanCount?: number;
  /**
   * How many times one failed `SCAN` or `UNLINK` step of a pattern delete (or one batch of a tag
   * delete) is retried, with a doubling backoff from 50 ms, before the delete rejects (a pattern
   * delete with `IncompleteDeleteError`). `0` retries nothing. A short Redis pause (a failover, a `CLIENT PAUSE`, a slow fork) then costs
   * a delay instead of an abandoned invalidation.
   * @default 4 (backoffs of 50, 100, 200 and 400 ms)
   */
  scanRetries?: number;
}

/** Defaults of {@link RedisStoreOptions}. */
export const DEFAULT_REDIS_STORE_OPTIONS = Object.freeze({
  operationTimeoutMs: 100,
  scanCount: 1_000,
  scanRetries: 4,
});

/** @internal */
export interface ResolvedRedisStoreOptions {
  client?: Redis | Cluster;
  url?: string;
  redisOptions: RedisOptions;
  operationTimeoutMs: number;
  scanCount: number;
  scanRetries: number;
}

// Every option name, once: the compiler keeps this equal to RedisStoreOptions.
const REDIS_STORE_OPTION_NAMES = optionNames<RedisStoreOptions>({
  client: true,
  url: true,
  redisOptions: true,
  operationTimeoutMs: true,
  scanCount: true,
  scanRetries: true,
});

/** @internal */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  plainObject('RedisStore options', options);
  rejectUnknownOptions('RedisStore', options, REDIS_STORE_OPTION_NAMES);
  const { client, url } = options;
  if (client === undefined && url === undefined && Object.prototype.hasOwnProperty.call(options, 'url')) {
    throw new InvalidOptionError('url', 'got undefined: pass a redis:// or rediss:// URL (is the environment variable it comes from set?), or a "client"');
  }
  if ((client === undefined) === (url === undefined)) {
    throw new InvalidOptionError('client', 'pass exactly one of "client" (an ioredis Redis or Cluster) or "url"');
  }
  if (client !== undefined && (typeof client !== 'object' || typeof (client as Redis).getBuffer !== 'function')) {
    throw new InvalidOptionError('client', 'expected an ioredis Redis or Cluster instance');
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw new InvalidOptionError('url', `expected a redis:// or rediss:// URL, got ${String(url)}`);
  }
  return {
    client,
    url,
    redisOptions: options.redisOptions ?? {},
    operationTimeoutMs: positiveInteger('operationTimeoutMs', options.operationTimeoutMs, DEFAULT_REDIS_STORE_OPTIONS.operationTimeoutMs),
    scanCount: positiveInteger('scanCount', options.scanCount, DEFAULT_REDIS_STORE_OPTIONS.scanCount),
    scanRetries: nonNegativeInteger('scanRetries', options.scanRetries, DEFAULT_REDIS_STORE_OPTIONS.scanRetries),
  };
}

