import type { Request, Response } from 'express';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Cache } from './cache';
import { InvalidOptionError } from './errors';
import type { Store } from './stores/store';
import { DEFAULT_TTL_PROFILE, type Ttl, type TtlProfiles, mergeProfiles, resolveTtl } from './ttl';

// ---------------------------------------------------------------------------------------------
// Shared validators: each names the option it rejects.

function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `expected a positive integer, got ${String(value)}`);
  }
  return value;
}

function optionalString(option: string, value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new InvalidOptionError(option, `expected a non-empty string, got ${String(value)}`);
  }
  return value;
}

/**
 * Validates a list of tags: an array of non-empty strings, or undefined.
 * @internal
 */
export function resolveTags(option: string, tags: unknown): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === '')) {
    throw new InvalidOptionError(option, 'expected an array of non-empty strings');
  }
  return tags as readonly string[];
}

/**
 * Validates a scope name (`character`, `content`, ...) and an optional id within it.
 * @internal
 */
export function resolveScope(scope: unknown, id: unknown): { scope: string; id: string | undefined } {
  if (typeof scope !== 'string' || scope === '') throw new InvalidOptionError('scope', `expected a non-empty string, got ${String(scope)}`);
  if (id === undefined) return { scope, id: undefined };
  if ((typeof id !== 'string' || id === '') && (typeof id !== 'number' || !Number.isFinite(id))) {
    throw new InvalidOptionError('id', `expected a non-empty string or a finite number, got ${String(id)}`);
  }
  return { scope, id: String(id) };
}

function plainObject(option: string, value: unknown): void {
  if (value === null || typeof value !== 'object') {
    throw new InvalidOptionError(option, `expected an options object, got ${value === null ? 'null' : typeof value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// MemoryStore

/** Options of {@link MemoryStore}. Both bounds always apply; there is no unbounded mode. */
export interface MemoryStoreOptions {
  /**
   * The most entries held; the least recently used is evicted past it. Must be a positive integer.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * The most bytes held (keys plus stored envelopes); least recently used entries are evicted past
   * it, and a single entry larger than this is not stored. Must be a positive integer.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const DEFAULT_MEMORY_STORE_OPTIONS = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
});

/** @internal */
export function resolveMemoryStoreOptions(options: MemoryStoreOptions): Required<MemoryStoreOptions> {
  plainObject('MemoryStore options', options);
  return {
    maxEntries: positiveInteger('maxEntries', options.maxEntries, DEFAULT_MEMORY_STORE_OPTIONS.maxEntries),
    maxBytes: positiveInteger('maxBytes', options.maxBytes, DEFAULT_MEMORY_STORE_OPTIONS.maxBytes),
  };
}

// ---------------------------------------------------------------------------------------------
// RedisStore

/** Options of {@link RedisStore}: exactly one of `client` or `url`. */
export interface RedisStoreOptions {
  /** A connected ioredis `Redis` or `Cluster` you own; the store never closes it. */
  client?: Redis | Cluster;
  /** A `redis://` or `rediss://` URL; the store creates and owns a client with cache-safe settings. */
  url?: string;
  /** Extra ioredis options for the client created from `url` (they override the cache-safe defaults). */
  redisOptions?: RedisOptions;
  /**
   * How long one store operation may take before it counts as failed, in milliseconds.
   * @default 200
   */
  operationTimeoutMs?: number;
  /**
   * The `COUNT` hint of each `SCAN` step in pattern deletes.
   * @default 1000
   */
  scanCount?: number;
}

/** Defaults of {@link RedisStoreOptions}. */
export const DEFAULT_REDIS_STORE_OPTIONS = Object.freeze({
  operationTimeoutMs: 200,
  scanCount: 1_000,
});

/** @internal */
export interface ResolvedRedisStoreOptions {
  client?: Redis | Cluster;
  url?: string;
  redisOptions: RedisOptions;
  operationTimeoutMs: number;
  scanCount: number;
}

/** @internal */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  plainObject('RedisStore options', options);
  const { client, url } = options;
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
  };
}

// ---------------------------------------------------------------------------------------------
// Cache

/** Options of {@link createCache}. */
export interface CacheOptions {
  /**
   * Where entries live.
   * @default a new MemoryStore with its default bounds
   */
  store?: Store;
  /**
   * Prefixes every key (`'myapp'` becomes `myapp:`), so several apps can share one Redis.
   * @default '' (no prefix)
   */
  namespace?: string;
  /**
   * The TTL used where none is given: seconds or a profile name.
   * @default 'api_response' (60 s)
   */
  defaultTtl?: Ttl;
  /** Profiles merged over {@link TTL_PROFILES}: add names or override the built-in seconds. */
  ttlProfiles?: TtlProfiles;
}

/** @internal */
export interface ResolvedCacheOptions {
  store: Store | undefined;
  namespace: string;
  profiles: TtlProfiles;
  defaultTtlSeconds: number;
}

/** @internal */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  plainObject('createCache options', options);
  const { store } = options;
  if (store !== undefined && (store === null || typeof store !== 'object' || typeof store.get !== 'function' || typeof store.set !== 'function')) {
    throw new InvalidOptionError('store', 'expected a Store (e.g. new MemoryStore() or new RedisStore({ client }))');
  }
  const profiles = mergeProfiles('ttlProfiles', options.ttlProfiles);
  return {
    store,
    namespace: optionalString('namespace', options.namespace) ?? '',
    profiles,
    defaultTtlSeconds: resolveTtl('defaultTtl', options.defaultTtl ?? DEFAULT_TTL_PROFILE, profiles),
  };
}

// ---------------------------------------------------------------------------------------------
// cacheResponse

/** Options of {@link cacheResponse}. */
export interface CacheResponseOptions {
  /**
   * How long an answer stays fresh: seconds or a profile name.
   * @default the cache's `defaultTtl`
   */
  ttl?: Ttl;
  /**
   * The endpoint name in the key `api:{endpoint}:{hash}`; what `invalidateApiCache(endpoint)` clears.
   * @default the route's path (`req.baseUrl + req.route.path`), else the request path
   */
  keyPrefix?: string;
  /**
   * The cache to use.
   * @default the default cache at request time ({@link getDefaultCache})
   */
  cache?: Cache;
  /**
   * Response statuses that may be stored.
   * @default [200]
   */
  statuses?: readonly number[];
  /**
   * Serve and store requests that carry `Authorization`. Only safe when the answer is the same
   * for every caller; otherwise such requests bypass the cache.
   * @default false
   */
  shareAuthenticated?: boolean;
  /**
   * Answers larger than this many bytes pass through uncached.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Tags for the stored answer, computed per request, so `invalidateTags` (or a scope) can
   * clear it; e.g. `(req) => ['character:' + req.params.id]`. A throwing function, or one
   * returning anything but an array of non-empty strings, leaves that answer uncached.
   * @default none
   */
  tags?: (req: Request) => readonly string[];
}

/** @internal */
export interface ResolvedCacheResponseOptions {
  ttl: Ttl | undefined;
  keyPrefix: string | undefined;
  cache: Cache | undefined;
  statuses: ReadonlySet<number>;
  shareAuthenticated: boolean;
  maxBodyBytes: number;
  tags: ((req: Request) => readonly string[]) | undefined;
}

/** Defaults of {@link CacheResponseOptions}. */
export const DEFAULT_CACHE_RESPONSE_OPTIONS = Object.freeze({
  statuses: Object.freeze([200]) as readonly number[],
  shareAuthenticated: false,
  maxBodyBytes: 1024 * 1024,
});

/** @internal */
export function resolveCacheResponseOptions(
  options: CacheResponseOptions,
  profilesFor: (cache: Cache | undefined) => TtlProfiles,
): ResolvedCacheResponseOptions {
  plainObject('cacheResponse options', options);
  if (options.ttl !== undefined) resolveTtl('ttl', options.ttl, profilesFor(options.cache));
  const statuses = options.statuses ?? DEFAULT_CACHE_RESPONSE_OPTIONS.statuses;
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidOptionError('statuses', 'expected an array of HTTP status codes (100-599)');
  }
  if (options.shareAuthenticated !== undefined && typeof options.shareAuthenticated !== 'boolean') {
    throw new InvalidOptionError('shareAuthenticated', 'expected a boolean');
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    throw new InvalidOptionError('tags', 'expected a function (req) => string[]');
  }
  return {
    ttl: options.ttl,
    keyPrefix: optionalString('keyPrefix', options.keyPrefix),
    cache: options.cache,
    statuses: new Set(statuses),
    shareAuthenticated: options.shareAuthenticated ?? DEFAULT_CACHE_RESPONSE_OPTIONS.shareAuthenticated,
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_CACHE_RESPONSE_OPTIONS.maxBodyBytes),
    tags: options.tags,
  };
}

// ---------------------------------------------------------------------------------------------
// invalidateAfter

/**
 * What one write invalidates. Every list is optional; ids in `scopes` are escaped, `patterns`
 * are raw Redis globs (escape ids in them with `escapeGlob`).
 */
export interface InvalidationTargets {
  /** Scopes as `'character'` (the whole scope) or `['character', 'char_123']` (one id). */
  scopes?: ReadonlyArray<string | readonly [scope: string, id?: string | number]>;
  /** Tags whose entries are removed. */
  tags?: readonly string[];
  /** Exact keys (without namespace) removed. */
  keys?: readonly string[];
  /** Redis globs (without namespace) whose matching keys are removed. */
  patterns?: readonly string[];
}

/** Options of {@link invalidateAfter}. */
export interface InvalidateAfterOptions {
  /**
   * The cache to invalidate.
   * @default the default cache when the response finishes ({@link getDefaultCache})
   */
  cache?: Cache;
  /**
   * Called when the spec throws or the invalidation fails; the response is already sent, so
   * nothing can reach the client. Store failures are also emitted as the cache's `error` event.
   * @default emits a process warning (`CACHE_INVALIDATE_AFTER`)
   */
  onError?: (error: Error, req: Request, res: Response) => void;
}

/** @internal */
export interface ResolvedInvalidateAfterOptions {
  cache: Cache | undefined;
  onError: (error: Error, req: Request, res: Response) => void;
}

/** @internal */
export function resolveInvalidateAfterOptions(spec: unknown, options: InvalidateAfterOptions): ResolvedInvalidateAfterOptions {
  if (typeof spec !== 'function' && (spec === null || typeof spec !== 'object')) {
    throw new InvalidOptionError('spec', 'expected InvalidationTargets or a function (req, res) => InvalidationTargets');
  }
  plainObject('invalidateAfter options', options);
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidOptionError('onError', 'expected a function (error, req, res) => void');
  }
  return {
    cache: options.cache,
    onError:
      options.onError ??
      ((error, req) => process.emitWarning(`invalidateAfter for ${req.method} ${req.originalUrl} failed: ${error.message}`, { code: 'CACHE_INVALIDATE_AFTER' })),
  };
}
