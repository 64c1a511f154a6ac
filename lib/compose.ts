import { Cache } from './engine/cache';
import { TypedEmitter } from './engine/events';
import { type CacheOptions, resolveCacheOptions } from './engine/options';
import { ResilientStore } from './resilience/resilient-store';
import { normaliseNamespace } from './keys';
import { MemoryStore } from './stores/memory';
import type { Store } from './stores/store';

/**
 * Creates a cache: the composition root. It assembles the store stack (the store, then the
 * circuit breaker with its fallback and invalidation journal) and hands the engine the composed
 * store; nothing inside the `Cache` builds stores. Without a store it uses a new
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
  const primary: Store = resolved.store ?? new MemoryStore();
  let store: Store = primary;
  // The engine owns error reporting (the event and the one-time warning); the wrapper reports
  // through it. Bound late: the engine is built on the composed store.
  let report: (error: Error, operation: string, key: string | undefined) => void = () => undefined;
  if (resolved.breaker !== false) {
    // The wrapper has exactly the capabilities of its primary; the engine finds them with the
    // can* guards. It reports every failure it absorbs through these hooks, once.
    const settings = { ...resolved.breaker, fallbackMode: resolved.fallbackMode, probeKey: `${normaliseNamespace(resolved.namespace)}__probe__` };
    store = new ResilientStore(primary, resolved.fallback, settings, {
      error: (error, operation, key) => report(error, operation, key),
      degraded: (error) => events.emit('degraded', { store: primary.name, error }),
      recovered: (downtimeMs) => events.emit('recovered', { store: primary.name, downtimeMs }),
    });
  }
  const cache = new Cache(store, events, resolved);
  report = (error, operation, key) => cache.reportError(error, operation, key);
  return cache;
}
