import { type PurgeHook, type PurgeOptions, type ResolvedPurgeOptions, resolvePurgeOptions } from '../cdn/purge';
import { InvalidOptionError } from '../errors';
import { type BusOptions, type ResolvedBusOptions, resolveBusOptions } from '../bus/options';
import { type BreakerOptions, DEFAULT_BREAKER_OPTIONS, DEFAULT_FALLBACK_MODE, type FallbackMode } from '../resilience/options';
import { type L1Options, resolveL1Options } from '../stores/tiered';
import { type Store, isStore } from '../stores/store';
import {
  DEFAULT_TTL_PROFILE,
  type DurationString,
  type Ttl,
  type TtlProfiles,
  type TtlProfilesInput,
  durationMillis,
  mergeProfiles,
  nonNegativeDurationSeconds,
  resolveTtl,
} from '../ttl';
import { nonNegativeInteger, optionNames, optionalBoolean, optionalString, plainObject, positiveIntegers, rejectUnknownOptions } from '../validate';


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
   * The TTL used where none is given: seconds, a duration string (`'5m'`) or a profile name.
   * @default 'api_response' (60 s)
   */
  defaultTtl?: Ttl;
  /**
   * Profiles merged over {@link TTL_PROFILES}: add names or override the built-in ones. Values
   * are seconds or duration strings (`{ nightly: '12h' }`); names may not start with a digit.
   */
  ttlProfiles?: TtlProfilesInput;
  /**
   * A store used while the primary is degraded (its breaker open), e.g. a `MemoryStore` behind
   * Redis. When the primary recovers, invalidations issued meanwhile are replayed on it. See
   * `fallbackMode` for what the fallback holds.
   * @default none: while degraded, reads are misses and writes are skipped
   */
  fallback?: Store;
  /**
   * How `fallback` is used. `'outage'`: only while the primary is degraded, cleared on recovery.
   * `'mirror'`: every write and invalidation also goes to the fallback, so it already holds the
   * hot entries when the primary dies (hits keep coming from it), and it is kept on recovery.
   * A mirror only sees this instance's invalidations: one issued by another instance reaches
   * the primary (and, replayed from that instance's journal, the primary after an outage) but
   * never this instance's mirror. Needs `fallback` and a breaker.
   * @default 'outage'
   */
  fallbackMode?: FallbackMode;
  /**
   * The circuit breaker around the store, or `false` to call the store every time.
   * @default { failureThreshold: 5, coolDownMs: 500, probeIntervalMs: 50, journalLimit: 10000 }
   */
  breaker?: BreakerOptions | false;
  /**
   * Cross-process stampede protection: on a miss, one instance takes a short lock in the store
   * and fills the key while the others wait for the entry, or `false` for in-process coalescing
   * only. Stores without locks (custom ones) get in-process coalescing only.
   * @default { ttlMs: 5000, waitMs: 3000, pollMs: 25 }
   */
  lock?: LockOptions | false;
  /**
   * A bounded in-process tier in front of the store: hits found there never touch the store.
   * Copies live no longer than their entry's TTL; invalidations remove them with the store's
   * entries, here and (through the bus) in every instance sharing the namespace.
   * @default none (every read goes to the store)
   */
  l1?: L1Options;
  /**
   * The invalidation bus that keeps every instance's `l1` coherent (Redis pub/sub; sharded on a
   * Cluster), or `false` for none (one instance only: other instances' writes would not reach
   * this one's copies until they expire).
   * @default on when `l1` is set and the store is a `RedisStore`
   */
  bus?: BusOptions | false;

  // Everyday switches

  /**
   * `false` turns the cache into a pass-through, for tests and development: `get` misses, `set`
   * stores nothing, `wrap` calls its loader every time, and `cacheResponse` answers every request
   * from its handler with `X-Cache: BYPASS`. Invalidations still run.
   * @default true, or false when the environment variable `EXPRESS_CACHE_KIT_ENABLED` is `false` or `0`
   */
  enabled?: boolean;
  /**
   * Tells a CDN or proxy in front of the app about every invalidation (keys, tags, scopes,
   * patterns, clear; hard or soft), after it was applied here: a hook, or the hook with its retry
   * bounds. Sent in the background from a bounded queue, retried, never failing the write; a
   * failed attempt emits `error`. `fastlyPurge` and `cloudflarePurge` build ready hooks.
   * @default none
   */
  purge?: PurgeHook | PurgeOptions;
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

/** Defaults of {@link LockOptions}. */
export const DEFAULT_LOCK_OPTIONS = Object.freeze({ ttlMs: 5_000, waitMs: 3_000, pollMs: 25 });

/** Defaults of {@link BreakerOptions} and {@link LockOptions}, together. */
export const DEFAULT_RESILIENCE_OPTIONS = Object.freeze({ breaker: DEFAULT_BREAKER_OPTIONS, lock: DEFAULT_LOCK_OPTIONS });

/** @internal */
export interface ResolvedCacheOptions {
  store: Store | undefined;
  namespace: string;
  profiles: TtlProfiles;
  defaultTtlSeconds: number;
  fallback: Store | undefined;
  fallbackMode: FallbackMode;
  breaker: Required<BreakerOptions> | false;
  lock: Required<LockOptions> | false;
  l1: Required<L1Options> | undefined;
  bus: ResolvedBusOptions | false | undefined;
  purge: ResolvedPurgeOptions | undefined;
  enabled: boolean;
}

/**
 * The `enabled` default of `createCache` and `cacheResponse`: the environment variable
 * `EXPRESS_CACHE_KIT_ENABLED` (`false` or `0` turns caching off).
 * @internal
 */
export function enabledFromEnvironment(): boolean {
  const value = process.env.EXPRESS_CACHE_KIT_ENABLED?.trim().toLowerCase();
  return value !== 'false' && value !== '0';
}

// The one list of option names per resolver: the compiler keeps each equal to its interface,
// so a new option is added to the interface and here, and nowhere else.
const CACHE_OPTION_NAMES = optionNames<CacheOptions>({
  store: true,
  namespace: true,
  defaultTtl: true,
  ttlProfiles: true,
  fallback: true,
  breaker: true,
  lock: true,
  l1: true,
  bus: true,
  fallbackMode: true,
  enabled: true,
  purge: true,
});
const BREAKER_OPTION_NAMES = optionNames<BreakerOptions>({ failureThreshold: true, coolDownMs: true, probeIntervalMs: true, journalLimit: true });
const LOCK_OPTION_NAMES = optionNames<LockOptions>({ ttlMs: true, waitMs: true, pollMs: true });
const LIMITER_OPTION_NAMES = optionNames<LimiterOptions>({ name: true, minIntervalMs: true, maxPerWindow: true, windowMs: true });

/** @internal */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  plainObject('createCache options', options);
  rejectUnknownOptions('createCache', options, CACHE_OPTION_NAMES);
  const { store, fallback, breaker, lock, l1, bus, fallbackMode = DEFAULT_FALLBACK_MODE } = options;
  if (store !== undefined && !isStore(store)) {
    throw new InvalidOptionError('store', 'expected a Store (e.g. new MemoryStore() or new RedisStore({ client }))');
  }
  if (fallback !== undefined && !isStore(fallback)) {
    throw new InvalidOptionError('fallback', 'expected a Store (e.g. new MemoryStore())');
  }
  if (fallback !== undefined && fallback === store) {
    throw new InvalidOptionError('fallback', 'must be a different store than "store"');
  }
  if (fallbackMode !== 'outage' && fallbackMode !== 'mirror') {
    throw new InvalidOptionError('fallbackMode', `expected 'outage' or 'mirror', got ${String(fallbackMode)}`);
  }
  if (fallbackMode === 'mirror' && (fallback === undefined || breaker === false)) {
    throw new InvalidOptionError('fallbackMode', "'mirror' needs a \"fallback\" store and the breaker (do not pass breaker: false)");
  }
  
  if (breaker !== undefined && breaker !== false) {
    plainObject('breaker', breaker);
    rejectUnknownOptions('createCache breaker', breaker, BREAKER_OPTION_NAMES, 'breaker.');
  }
  if (lock !== undefined && lock !== false) {
    plainObject('lock', lock);
    rejectUnknownOptions('createCache lock', lock, LOCK_OPTION_NAMES, 'lock.');
  }
  const profiles = mergeProfiles('ttlProfiles', options.ttlProfiles);
  return {
    store,
    namespace: optionalString('namespace', options.namespace) ?? '',
    profiles,
    defaultTtlSeconds: resolveTtl('defaultTtl', options.defaultTtl ?? DEFAULT_TTL_PROFILE, profiles),
    fallback,
    fallbackMode,
    breaker: breaker === false ? false : positiveIntegers('breaker', breaker, DEFAULT_BREAKER_OPTIONS),
    lock: lock === false ? false : positiveIntegers('lock', lock, DEFAULT_LOCK_OPTIONS),
    l1: l1 === undefined ? undefined : resolveL1Options(l1),
    bus: bus === undefined || bus === false ? bus : resolveBusOptions(bus),
    enabled: optionalBoolean('enabled', options.enabled, enabledFromEnvironment()),
    purge: resolvePurgeOptions(options.purge),
  };
}

// Freshness and origin protection, shared by Cache.wrap and cacheResponse


/** Limits on calls to the origin, applied on misses only (hits are never counted or delayed). */
export interface LimiterOptions {
  /**
   * The limiter's name: calls sharing a name share the limit, across every instance on the store.
   * @default the route's endpoint (middleware) or the key (`wrap`)
   */
  name?: string;
  /**
   * Least time between two origin calls, in ms (e.g. 2000 for an API asking for 2-second
   * spacing), or a duration string (`'2s'`). 0 is off.
   * @default 0
   */
  minIntervalMs?: number | DurationString;
  /**
   * Most origin calls per `windowMs` (e.g. 1000 an hour). 0 is off.
   * @default 0
   */
  maxPerWindow?: number;
  /**
   * The window of `maxPerWindow`, in ms, or a duration string (`'1h'`).
   * @default 3600000 (one hour)
   */
  windowMs?: number | DurationString;
}

/** Freshness options accepted by `Cache.wrap`, `getCachedQuery` and `cacheResponse`. */
export interface FreshnessOptions {
  /**
   * Seconds (or a duration string, `'1h'`) after the TTL during which a stale entry is served
   * at once while one refresh runs.
   * @default 0 (off)
   */
  staleWhileRevalidate?: number | DurationString;
  /**
   * Seconds (or a duration string, `'1 day'`) after the TTL during which a stale entry replaces
   * an origin error (a thrown loader, a 5xx answer) or a rate-limited origin call.
   * @default 0 (off)
   */
  staleIfError?: number | DurationString;
  /** Origin rate limiting, for misses only. */
  limiter?: LimiterOptions;
}

/** @internal */
export interface ResolvedFreshness {
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  /** How long the store keeps an entry past its TTL: the larger stale window. */
  graceMs: number;
  limiter: { name: string | undefined; minIntervalMs: number; maxPerWindow: number; windowMs: number } | undefined;
}

/** @internal */
export function resolveFreshness(options: FreshnessOptions): ResolvedFreshness {
  const staleWhileRevalidateMs = nonNegativeDurationSeconds('staleWhileRevalidate', options.staleWhileRevalidate) * 1000;
  const staleIfErrorMs = nonNegativeDurationSeconds('staleIfError', options.staleIfError) * 1000;
  let limiter: ResolvedFreshness['limiter'];
  if (options.limiter !== undefined) {
    plainObject('limiter', options.limiter);
    rejectUnknownOptions('limiter', options.limiter, LIMITER_OPTION_NAMES, 'limiter.');
    limiter = {
      name: optionalString('limiter.name', options.limiter.name),
      minIntervalMs: durationMillis('limiter.minIntervalMs', options.limiter.minIntervalMs, 0, 0),
      maxPerWindow: nonNegativeInteger('limiter.maxPerWindow', options.limiter.maxPerWindow, 0),
      windowMs: durationMillis('limiter.windowMs', options.limiter.windowMs, 3_600_000, 1),
    };
    if (limiter.minIntervalMs === 0 && limiter.maxPerWindow === 0) {
      throw new InvalidOptionError('limiter', 'set minIntervalMs, maxPerWindow or both');
    }
  }
  return { staleWhileRevalidateMs, staleIfErrorMs, graceMs: Math.max(staleWhileRevalidateMs, staleIfErrorMs), limiter };
}

/** Per-write options of `Cache.set`. */
export interface SetOptions {
  /** Seconds or a profile name; defaults to the cache's `defaultTtl`. */
  ttl?: Ttl;
  /** Tags for the entry, so `Cache.invalidateTags` (or a scope) can remove it. */
  tags?: readonly string[];
  /**
   * A value of `Cache.generation()` taken before the value was loaded: the write is skipped
   * (resolving `false`) when an invalidation touching this entry began since, so a slow load
   * never puts back what an invalidation just removed.
   */
  generation?: number;
  /**
   * Keeps the entry in the store this many milliseconds past its TTL, so stale-while-revalidate
   * and stale-if-error can still serve it (reads ask for stale entries explicitly).
   * @default 0
   */
  graceMs?: number;
}

/** Checks `graceMs` of {@link SetOptions}. @internal */
export function graceOf(options: SetOptions): number {
  const grace = options.graceMs ?? 0;
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0) {
    throw new InvalidOptionError('graceMs', `expected a number of milliseconds >= 0, got ${String(grace)}`);
  }
  return grace;
}

// Refresh-ahead, shared by Cache.wrap, @Cacheable and cacheResponse

/**
 * Checks a `refreshAhead` fraction: a hit with less than this fraction of the entry's lifetime
 * left starts one background refresh. `0` is off; `1` or more would refresh on every hit.
 * @internal
 */
export function refreshAheadFraction(value: unknown): number {
  const fraction = value ?? 0;
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction < 1)) {
    throw new InvalidOptionError('refreshAhead', `expected a fraction of the TTL in [0, 1) such as 0.1, got ${String(fraction)}`);
  }
  return fraction;
}

/** Whether a fresh entry is in the last `fraction` of its lifetime (refresh-ahead is due). @internal */
export function refreshAheadDue(createdAt: number, expiresAt: number, fraction: number, now = Date.now()): boolean {
  return fraction > 0 && expiresAt - now < fraction * (expiresAt - createdAt);
}
