export { Cache, createCache } from './cache';

export { CacheEvict } from './decorators/cache-evict';
export { Cacheable } from './decorators/cacheable';
export type { CacheMethodDecorator } from './decorators/detect';
export { CACHEABLE_METADATA_KEY, CACHE_EVICT_METADATA_KEY, getCacheMetadata } from './decorators/metadata';
export type { CacheMethodMetadata } from './decorators/metadata';
export type { CacheEvictOptions, CacheableOptions, FromCall } from './decorators/options';
export type { CacheStats, CachedResponseInput, FillLock, Lookup, SetOptions, WarmTask, WrapOptions } from './cache';
export { configureCache, getDefaultCache } from './default-cache';
export {
  CacheError,
  InvalidOptionError,
  RateLimitedError,
  StoreClosedError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
} from './errors';
export type { CacheErrorCode } from './errors';
export type { CacheEventName, CacheEvents, CacheListener } from './events';
export { invalidateAfter } from './http/invalidate-after';
export type { InvalidateAfterSpec } from './http/invalidate-after';
export { cacheResponse } from './http/middleware';
export {
  createScopeInvalidator,
  invalidateApiCache,
  invalidateCacheByPattern,
  invalidateCharacterCache,
  invalidateContentCache,
} from './invalidation';
export type { ScopeInvalidator } from './invalidation';
export { apiKey, escapeGlob, queryKey } from './keys';
export {
  DEFAULT_CACHE_RESPONSE_OPTIONS,
  DEFAULT_MEMORY_STORE_OPTIONS,
  DEFAULT_REDIS_STORE_OPTIONS,
  DEFAULT_RESILIENCE_OPTIONS,
} from './options';
export type {
  BreakerOptions,
  CacheOptions,
  CacheResponseOptions,
  FreshnessOptions,
  InvalidateAfterOptions,
  InvalidationTargets,
  LimiterOptions,
  LockOptions,
  MemoryStoreOptions,
  QueryNamePattern,
  RedisStoreOptions,
  VaryBy,
} from './options';
export { getCachedQuery } from './query';
export type { CachedQueryOptions } from './query';
export type { Entry, ResponseEntry, StoredHeaders, ValueEntry } from './serializer';
export { MemoryStore } from './stores/memory';
export { RedisStore } from './stores/redis';
export type { RateLimits, Store } from './stores/store';
export { TTL_PROFILES } from './ttl';
export type { Ttl, TtlProfileName, TtlProfiles } from './ttl';
