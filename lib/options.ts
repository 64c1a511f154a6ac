import type { Request, Response } from 'express';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Cache } from './cache';
import { InvalidOptionError } from './errors';
import { queryNameMatcher } from './keys';
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

/** Validates each field of `given` against the positive-integer `defaults` of the same names. */
function positiveIntegers<T extends Readonly<Record<string, number>>>(option: string, given: Partial<Record<keyof T, unknown>> | undefined, defaults: T): { [K in keyof T]: number } {
  const resolved: Record<string, number> = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    resolved[name] = positiveInteger(`${option}.${name}`, given?.[name as keyof T], fallback);
  }
  return resolved as { [K in keyof T]: number };
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
   * @default 100
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
  operationTimeoutMs: 100,
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
  /**
   * A store used while the primary is degraded (its breaker open), e.g. a `MemoryStore` behind
   * Redis. When the primary recovers, invalidations issued meanwhile are replayed on it and the
   * fallback is cleared.
   * @default none: while degraded, reads are misses and writes are skipped
   */
  fallback?: Store;
  /**
   * The circuit breaker around the store, or `false` to call the store every time.
   * @default { failureThreshold: 5, coolDownMs: 5000, journalLimit: 10000 }
   */
  breaker?: BreakerOptions | false;
  /**
   * Cross-process stampede protection: on a miss, one instance takes a short lock in the store
   * and fills the key while the others wait for the entry, or `false` for in-process coalescing
   * only. Stores without locks (custom ones) get in-process coalescing only.
   * @default { ttlMs: 5000, waitMs: 3000, pollMs: 25 }
   */
  lock?: LockOptions | false;
}

/** Options of the circuit breaker ({@link CacheOptions.breaker}). */
export interface BreakerOptions {
  /**
   * Consecutive store failures that open the breaker.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * How long the store is skipped once the breaker opens, before one probe, in milliseconds.
   * @default 5000
   */
  coolDownMs?: number;
  /**
   * Invalidations remembered while degraded, to replay on recovery; past it, the primary is
   * cleared on recovery instead.
   * @default 10000
   */
  journalLimit?: number;
}

/** Options of the cross-process fill lock ({@link CacheOptions.lock}). */
export interface LockOptions {
  /**
   * How long a fill lock lives if its holder never releases it (a crashed instance), in ms.
   * @default 5000
   */
  ttlMs?: number;
  /**
   * How long an instance waits for another's fill before calling the origin itself, in ms.
   * @default 3000
   */
  waitMs?: number;
  /**
   * How often a waiting instance looks for the filled entry, in ms.
   * @default 25
   */
  pollMs?: number;
}

/** Defaults of {@link BreakerOptions} and {@link LockOptions}. */
export const DEFAULT_RESILIENCE_OPTIONS = Object.freeze({
  breaker: Object.freeze({ failureThreshold: 5, coolDownMs: 5_000, journalLimit: 10_000 }),
  lock: Object.freeze({ ttlMs: 5_000, waitMs: 3_000, pollMs: 25 }),
});

/** @internal */
export interface ResolvedCacheOptions {
  store: Store | undefined;
  namespace: string;
  profiles: TtlProfiles;
  defaultTtlSeconds: number;
  fallback: Store | undefined;
  breaker: Required<BreakerOptions> | false;
  lock: Required<LockOptions> | false;
}

function isStore(value: unknown): value is Store {
  return value !== null && typeof value === 'object' && typeof (value as Store).get === 'function' && typeof (value as Store).set === 'function';
}

/** @internal */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  plainObject('createCache options', options);
  const { store, fallback, breaker, lock } = options;
  if (store !== undefined && !isStore(store)) {
    throw new InvalidOptionError('store', 'expected a Store (e.g. new MemoryStore() or new RedisStore({ client }))');
  }
  if (fallback !== undefined && !isStore(fallback)) {
    throw new InvalidOptionError('fallback', 'expected a Store (e.g. new MemoryStore())');
  }
  if (fallback !== undefined && fallback === store) {
    throw new InvalidOptionError('fallback', 'must be a different store than "store"');
  }
  const defaults = DEFAULT_RESILIENCE_OPTIONS;
  if (breaker !== undefined && breaker !== false) plainObject('breaker', breaker);
  if (lock !== undefined && lock !== false) plainObject('lock', lock);
  const profiles = mergeProfiles('ttlProfiles', options.ttlProfiles);
  return {
    store,
    namespace: optionalString('namespace', options.namespace) ?? '',
    profiles,
    defaultTtlSeconds: resolveTtl('defaultTtl', options.defaultTtl ?? DEFAULT_TTL_PROFILE, profiles),
    fallback,
    breaker: breaker === false ? false : positiveIntegers('breaker', breaker, defaults.breaker),
    lock: lock === false ? false : positiveIntegers('lock', lock, defaults.lock),
  };
}

// ---------------------------------------------------------------------------------------------
// Freshness and origin protection, shared by Cache.wrap and cacheResponse

/** Limits on calls to the origin, applied on misses only (hits are never counted or delayed). */
export interface LimiterOptions {
  /**
   * The limiter's name: calls sharing a name share the limit, across every instance on the store.
   * @default the route's endpoint (middleware) or the key (`wrap`)
   */
  name?: string;
  /**
   * Least time between two origin calls, in ms (e.g. 2000 for an API asking for 2-second spacing). 0 is off.
   * @default 0
   */
  minIntervalMs?: number;
  /**
   * Most origin calls per `windowMs` (e.g. 1000 an hour). 0 is off.
   * @default 0
   */
  maxPerWindow?: number;
  /**
   * The window of `maxPerWindow`, in ms.
   * @default 3600000 (one hour)
   */
  windowMs?: number;
}

/** Freshness options accepted by `Cache.wrap`, `@Cacheable` and `cacheResponse`. */
export interface FreshnessOptions {
  /**
   * Seconds after the TTL during which a stale entry is served at once while one refresh runs.
   * @default 0 (off)
   */
  staleWhileRevalidate?: number;
  /**
   * Seconds after the TTL during which a stale entry replaces an origin error (a thrown loader,
   * a 5xx answer) or a rate-limited origin call.
   * @default 0 (off)
   */
  staleIfError?: number;
  /** Origin rate limiting, for misses only. */
  limiter?: LimiterOptions;
}

/** @internal */
export interface ResolvedFreshness {
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  /** How long the store keeps an entry past its TTL: the larger stale window. */
  graceMs: number;
  limiter: (Required<Omit<LimiterOptions, 'name'>> & { name: string | undefined }) | undefined;
}

function nonNegativeSeconds(option: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, `expected a number of seconds >= 0, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `expected an integer >= 0, got ${String(value)}`);
  }
  return value;
}

/** @internal */
export function resolveFreshness(options: FreshnessOptions): ResolvedFreshness {
  const staleWhileRevalidateMs = nonNegativeSeconds('staleWhileRevalidate', options.staleWhileRevalidate) * 1000;
  const staleIfErrorMs = nonNegativeSeconds('staleIfError', options.staleIfError) * 1000;
  let limiter: ResolvedFreshness['limiter'];
  if (options.limiter !== undefined) {
    plainObject('limiter', options.limiter);
    limiter = {
      name: optionalString('limiter.name', options.limiter.name),
      minIntervalMs: nonNegativeInteger('limiter.minIntervalMs', options.limiter.minIntervalMs, 0),
      maxPerWindow: nonNegativeInteger('limiter.maxPerWindow', options.limiter.maxPerWindow, 0),
      windowMs: positiveInteger('limiter.windowMs', options.limiter.windowMs, 3_600_000),
    };
    if (limiter.minIntervalMs === 0 && limiter.maxPerWindow === 0) {
      throw new InvalidOptionError('limiter', 'set minIntervalMs, maxPerWindow or both');
    }
  }
  return { staleWhileRevalidateMs, staleIfErrorMs, graceMs: Math.max(staleWhileRevalidateMs, staleIfErrorMs), limiter };
}

// ---------------------------------------------------------------------------------------------
// cacheResponse

/**
 * What, besides the URL, tells requests apart: request header names (case-insensitive), or a
 * function of the request returning a string (e.g. the user id).
 *
 * @example
 * ```ts
 * cacheResponse({ varyBy: ['accept-language'] });
 * cacheResponse({ varyBy: (req) => String(req.user?.id) });
 * ```
 */
export type VaryBy = readonly string[] | ((req: Request) => string);

/** A query parameter name to leave out of the key: an exact name, a glob with `*` (`'utm_*'`), or a RegExp. *
 * @example
 * ```ts
 * cacheResponse({ ignoreQuery: ['utm_*', 'fbclid', /^_ga/] });
 * ```
 */
export type QueryNamePattern = string | RegExp;

/** Options of {@link cacheResponse}. */
export interface CacheResponseOptions extends FreshnessOptions {
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
   * Serve and store requests that carry `Authorization` or `Cookie` from the shared entry. Only
   * safe when the answer is the same for every caller; otherwise such requests bypass the cache
   * (`X-Cache: BYPASS`), unless `varyBy` covers them.
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
  /**
   * Adds request values to the key. Header names put those headers' values in the key (naming
   * `authorization` or `cookie` lets such requests use the cache, one entry per credential); a
   * function's result is put in the key and is taken to cover `Authorization` and `Cookie`
   * (it must return a different string for every user whose answer differs).
   * @default undefined (the key is the URL, plus the headers the response names in `Vary`)
   */
  varyBy?: VaryBy;
  /**
   * Query parameters left out of the key, so `?utm_source=x` does not create a new entry.
   * Strings match whole names, `*` matching any run of characters; RegExps are tested against the name.
   * Only list parameters the handler ignores: the first answer is replayed for every value.
   * @default [] (every parameter counts)
   */
  ignoreQuery?: readonly QueryNamePattern[];
  /**
   * Keys longer than this many characters are shortened: their tail is replaced by a SHA-1 of
   * the whole key, so a long path cannot make a huge key. Must be at least 64.
   * @default 512
   */
  maxKeyLength?: number;
  /**
   * Take the TTL from the response's `Cache-Control`: `s-maxage`, else `max-age`
   * (RFC 9111 §5.2.2.10, §5.2.2.1); `max-age=0` answers are not stored. Answers without either
   * use `ttl`.
   * @default false
   */
  ttlFromCacheControl?: boolean;
  /**
   * The `Cache-Control` header sent to clients with stored or storable answers, e.g.
   * `'public, max-age=60'`. The stored entry keeps the handler's own header. Answers the cache
   * will not store keep the handler's header untouched.
   * @default undefined (the handler's header is sent as it is)
   */
  cacheControl?: string;
  /**
   * Let a request's `Cache-Control: no-cache` (or `Pragma: no-cache`) skip the stored entry and
   * refresh it from the handler. Off by default, so a client cannot force origin load at will.
   * @default false
   */
  honorNoCache?: boolean;
  /**
   * Store bodies of at least this many bytes gzip-compressed (Node's zlib), to save store
   * memory; clients still receive the original bytes. `0` turns it off. Bodies the handler
   * already encoded (`Content-Encoding`) are stored as they are.
   * @default 0 (off)
   */
  compressStoredBodiesOver?: number;
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
  /** Lower-case header names, or a function; undefined when nothing is added. */
  varyBy: readonly string[] | ((req: Request) => string) | undefined;
  /** Whether `varyBy` makes requests with `Authorization` / `Cookie` safe to serve. */
  varyCoversAuthorization: boolean;
  varyCoversCookie: boolean;
  /** Predicate over query names, or undefined when nothing is ignored. */
  ignoreQuery: ((name: string) => boolean) | undefined;
  maxKeyLength: number;
  ttlFromCacheControl: boolean;
  cacheControl: string | undefined;
  honorNoCache: boolean;
  compressStoredBodiesOver: number;
  freshness: ResolvedFreshness;
}

/** Defaults of {@link CacheResponseOptions}. */
export const DEFAULT_CACHE_RESPONSE_OPTIONS = Object.freeze({
  statuses: Object.freeze([200]) as readonly number[],
  shareAuthenticated: false,
  maxBodyBytes: 1024 * 1024,
  ignoreQuery: Object.freeze([]) as readonly QueryNamePattern[],
  maxKeyLength: 512,
  ttlFromCacheControl: false,
  honorNoCache: false,
  compressStoredBodiesOver: 0,
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function optionalBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, `expected a boolean, got ${String(value)}`);
  return value;
}

function resolveVaryBy(value: unknown): readonly string[] | ((req: Request) => string) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as (req: Request) => string;
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string' || !HEADER_NAME.test(name))) {
    throw new InvalidOptionError('varyBy', 'expected an array of request header names or a function (req) => string');
  }
  return [...new Set((value as string[]).map((name) => name.toLowerCase()))];
}

function resolveIgnoreQuery(value: unknown): ((name: string) => boolean) | undefined {
  const patterns = value ?? DEFAULT_CACHE_RESPONSE_OPTIONS.ignoreQuery;
  if (!Array.isArray(patterns) || patterns.some((p) => !(p instanceof RegExp) && (typeof p !== 'string' || p === ''))) {
    throw new InvalidOptionError('ignoreQuery', 'expected an array of parameter names, globs like "utm_*", or RegExps');
  }
  if (patterns.length === 0) return undefined;
  return queryNameMatcher(patterns as QueryNamePattern[]);
}

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
  const maxKeyLength = positiveInteger('maxKeyLength', options.maxKeyLength, DEFAULT_CACHE_RESPONSE_OPTIONS.maxKeyLength);
  if (maxKeyLength < 64) throw new InvalidOptionError('maxKeyLength', `expected at least 64, got ${maxKeyLength}`);
  const cacheControl = optionalString('cacheControl', options.cacheControl);
  if (cacheControl !== undefined && /[\r\n]/.test(cacheControl)) {
    throw new InvalidOptionError('cacheControl', 'expected a header value without line breaks');
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    throw new InvalidOptionError('tags', 'expected a function (req) => string[]');
  }
  const compressOver = options.compressStoredBodiesOver ?? DEFAULT_CACHE_RESPONSE_OPTIONS.compressStoredBodiesOver;
  if (typeof compressOver !== 'number' || !Number.isInteger(compressOver) || compressOver < 0) {
    throw new InvalidOptionError('compressStoredBodiesOver', `expected a non-negative integer (0 = off), got ${String(compressOver)}`);
  }
  const varyBy = resolveVaryBy(options.varyBy);
  return {
    ttl: options.ttl,
    keyPrefix: optionalString('keyPrefix', options.keyPrefix),
    cache: options.cache,
    statuses: new Set(statuses),
    shareAuthenticated: optionalBoolean('shareAuthenticated', options.shareAuthenticated, DEFAULT_CACHE_RESPONSE_OPTIONS.shareAuthenticated),
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_CACHE_RESPONSE_OPTIONS.maxBodyBytes),
    tags: options.tags,
    varyBy,
    varyCoversAuthorization: typeof varyBy === 'function' || (varyBy?.includes('authorization') ?? false),
    varyCoversCookie: typeof varyBy === 'function' || (varyBy?.includes('cookie') ?? false),
    ignoreQuery: resolveIgnoreQuery(options.ignoreQuery),
    maxKeyLength,
    ttlFromCacheControl: optionalBoolean('ttlFromCacheControl', options.ttlFromCacheControl, DEFAULT_CACHE_RESPONSE_OPTIONS.ttlFromCacheControl),
    cacheControl,
    honorNoCache: optionalBoolean('honorNoCache', options.honorNoCache, DEFAULT_CACHE_RESPONSE_OPTIONS.honorNoCache),
    compressStoredBodiesOver: compressOver,
    freshness: resolveFreshness(options),
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
