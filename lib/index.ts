export { Cache, createCache } from './cache';
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
export { cacheResponse } from './http/middleware';
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
  LimiterOptions,
  LockOptions,
  MemoryStoreOptions,
  RedisStoreOptions,
} from './options';
export type { Entry, ResponseEntry, StoredHeaders, ValueEntry } from './serializer';
export { MemoryStore } from './stores/memory';
export { RedisStore } from './stores/redis';
export type { RateLimits, Store } from './stores/store';
export { TTL_PROFILES } from './ttl';
export type { Ttl, TtlProfileName, TtlProfiles } from './ttl';
