import { Cache } from './engine/cache';
import { TypedEmitter } from './engine/events';
import { type CacheOptions, resolveCacheOptions } from './engine/options';
import { InstrumentedStore } from './metrics/instrumented-store';
import { ResilientStore } from './resilience/resilient-store';
import { MemoryStore } from './stores/memory';
import type { FullStore, Store } from './stores/store';

/**
 * Creates a cache: the composition root. It assembles the store stack (the store, then the
 * circuit breaker with its fallback and invalidation journal) and hands the engine the composed
 * store; nothing inside the `Cache` builds stores. Each store is wrapped in an
 * {@link InstrumentedStore} (tracing channel `express-cache-kit:store`, Prometheus timings). Without a store it uses a new
 * {@link MemoryStore}.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url: 'redis://127.0.0.1:6379' }), namespace: 'myapp', defaultTtl: 'api_response' });
 * ```
 */
export function createCache(options: CacheOptions = {}): Cache {
  const resolved = resolveCacheOptions(options);
  const events = new TypedEmitter();
  // Tracing sits right around each real store (inside the breaker), so traced durations are the
  // store's own and a skipped call of an open breaker is not timed as one.
  const primary: Store = new InstrumentedStore(resolved.store ?? new MemoryStore());
  const fallback = resolved.fallback && new InstrumentedStore(resolved.fallback);
  let store: Store = primary;
  if (resolved.breaker !== false) {
    // The wrapper forwards each capability its primary has, and only those.
    store = new ResilientStore(primary as FullStore, fallback as FullStore | undefined, resolved.breaker, {
      error: (error, operation, key) => events.emit('error', { error, operation, key }),
      degraded: (error) => events.emit('degraded', { store: primary.name, error }),
      recovered: (downtimeMs) => events.emit('recovered', { store: primary.name, downtimeMs }),
    });
  }
  return new Cache(store, events, resolved);
}
