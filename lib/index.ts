export { createCache } from './compose';
export { Cache } from './engine/cache';

export { CacheEvict } from './decorators/cache-evict';
export { Cacheable } from './decorators/cacheable';
export type { CacheMethodDecorator } from './decorators/detect';
export { CACHEABLE_METADATA_KEY, CACHE_EVICT_METADATA_KEY, getCacheMetadata } from './decorators/metadata';
export type { CacheMethodMetadata } from './decorators/metadata';
export type { CacheEvictOptions, CacheableOptions, FromCall } from './decorators/options';
export type { CacheStats, Lookup, SetOptions, WarmResult, WarmTask, WrapOptions } from './engine/cache';
export type { InvalidateOptions, InvalidationResult } from './engine/cache';
export { INVALIDATION_STAMP_TTL_MS } from './engine/cache';
export { CLOSE_WAIT_MS } from './engine/cache';
export type { CacheSetEntry } from './engine/cache';
export type { KnownRoute, WarningCode } from './engine/events';
export { DEFAULT_IGNORED_COOKIES } from './http/options';
export { MAX_NUMERIC_TTL_SECONDS } from './ttl';
export { configureCache, getDefaultCache } from './default-cache';
export {
  CacheError,
  IncompleteDeleteError,
  InvalidOptionError,
  InvalidationPendingError,
  MissingPeerError,
  RateLimitedError,
  StoreClosedError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  UnsupportedOperationError,
} from './errors';
export type { CacheErrorCode } from './errors';
export type { BypassReason, CacheEventName, CacheEvents, CacheListener, RefreshOutcome, RefreshTrigger, StaleReason, UncacheableReason } from './engine/events';
export { invalidateAfter } from './http/invalidate-after';
export type { InvalidateAfterSpec } from './http/invalidate-after';
export { cacheResponse } from './http/middleware';
export { invalidateOnWrite } from './http/unsafe';
export type { InvalidateOnWriteOptions } from './http/unsafe';
export { getResponse, setResponse } from './http/response-entry';
export type { CachedResponseInput } from './http/response-entry';
export { warmRoutes } from './http/warm';
export type { WarmRouteTask, WarmRoutesOptions } from './http/warm';
export { refreshRoutes } from './refresh/schedule';
export type { RefreshRoute, RefreshRouteStats, RefreshRoutesOptions, RouteRefresher } from './refresh/schedule';
export type { RouteRefreshOptions } from './http/refresh-options';
export type { AdaptiveTtlOptions } from './refresh/adaptive';
export {
  createScopeInvalidator,
  invalidateApiCache,
  invalidateCacheByPattern,
  invalidateCharacterCache,
  invalidateContentCache,
} from './invalidation';
export type { InvalidationHelperOptions, ScopeInvalidator } from './invalidation';
export type { ScopeParam } from './http/scope-tags';
export { apiKey, escapeGlob, escapeScopeId, queryKey } from './keys';
export { DEFAULT_LOCK_OPTIONS, DEFAULT_RESILIENCE_OPTIONS } from './engine/options';
export type { CacheOptions, FreshnessOptions, LimiterOptions, LockOptions } from './engine/options';
export { DEFAULT_CACHE_RESPONSE_OPTIONS } from './http/options';
export type { CacheResponseOptions, InvalidateAfterOptions, QueryNamePattern, RouteMiddleware, VaryBy } from './http/options';
export type { InvalidationTargets } from './invalidation';
export { DEFAULT_BREAKER_OPTIONS } from './resilience/options';
export type { BreakerOptions, FallbackMode } from './resilience/options';
export { DEFAULT_MEMORY_STORE_OPTIONS } from './stores/memory-options';
export type { MemoryStoreOptions } from './stores/memory-options';
export { DEFAULT_REDIS_STORE_OPTIONS } from './stores/redis-options';
export type { RedisStoreOptions } from './stores/redis-options';
export { getCachedQuery } from './query';
export type { CachedQueryOptions } from './query';
export type { Entry, RequestSource, ResponseEntry, StoredHeaders, ValueEntry } from './serializer';
export { MemoryStore } from './stores/memory';
export { DEFAULT_L1_OPTIONS, TieredStore } from './stores/tiered';
export type { L1Options, TierBusState } from './stores/tiered';
export { RedisBus } from './bus/redis-bus';
export type { BusEvents, BusState } from './bus/redis-bus';
export type { BusOptions } from './bus/options';
export type { InvalidationMessage } from './bus/message';
export { RedisStore } from './stores/redis';
export { PostgresStore, postgresCacheDdl } from './stores/postgres';
export { DEFAULT_POSTGRES_STORE_OPTIONS } from './stores/postgres-options';
export type { PgPool, PgPoolClient, PgQueryResult, PostgresStoreOptions } from './stores/postgres-options';
export { SqliteStore, sqliteCacheDdl } from './stores/sqlite';
export { DEFAULT_SQLITE_STORE_OPTIONS } from './stores/sqlite-options';
export type { SqliteStoreOptions } from './stores/sqlite-options';
export { canPrune } from './stores/store';
export type { InspectedEntry, PruneCapable, StoreInspection } from './stores/store';
export { canDeletePattern, canDeleteTags, canLock, canRateLimit } from './stores/store';
export { canGuardWrites, canSoftInvalidate, canCheckStale } from './stores/store';
export { CAPABILITY_METHODS, CAPABILITY_NAMES, capabilitiesOf, forwardCapabilities, hasCapability } from './stores/store';
export type { Capabilities, CapabilityForwarders, CapabilityMethods, CapabilityName, StalenessCapable } from './stores/store';
export type { FullStore, LockCapable, PatternCapable, RateLimitCapable, RateLimits, Store, TagCapable } from './stores/store';
export type { GuardCapable, MarkedValue, SoftCapable } from './stores/store';
export { TTL_PROFILES } from './ttl';
export type { DurationString, DurationUnit, Ttl, TtlProfileName, TtlProfiles, TtlProfilesInput } from './ttl';
// Observability (issue 15); Prometheus and the dashboard are the subpaths
// `express-cache-kit/prometheus` and `express-cache-kit/dashboard`.
export { InstrumentedStore } from './metrics/instrumented-store';
export type { StoreOperation } from './metrics/instrumented-store';
export { DEFAULT_MAX_ENDPOINTS, OTHER_ENDPOINT, StatsCollector } from './metrics/stats';
export type { EndpointStats, OutcomeCounts, StatsSnapshot } from './metrics/stats';
export { CHANNELS } from './metrics/tracing';
export type { FillTraceContext, LookupTraceContext, StoreTraceContext } from './metrics/tracing';
// Tags and purges that reach the CDN in front.
export { PurgeError } from './errors';
export { DEFAULT_PURGE_OPTIONS } from './cdn/purge';
export type { PurgeHook, PurgeKind, PurgeOptions, PurgeRequest } from './cdn/purge';
export type { PurgeAdapterOptions } from './cdn/request';
export { fastlyPurge } from './cdn/fastly';
export type { FastlyPurgeOptions } from './cdn/fastly';
export { cloudflarePurge } from './cdn/cloudflare';
export type { CloudflarePurgeOptions } from './cdn/cloudflare';
export { SURROGATE_LIMITS } from './http/surrogate';
export type { SurrogateKeysOptions } from './http/options';
