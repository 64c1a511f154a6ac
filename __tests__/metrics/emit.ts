import type { Cache } from '../../lib';
import type { CacheEventName, CacheEvents, TypedEmitter } from '../../lib/engine/events';

/**
 * Emits `event` through the cache's own emitter, as the engine and the middleware do. The
 * listeners under test (stats, Prometheus, dashboard) only ever see these events.
 */
export function emit<E extends CacheEventName>(cache: Cache, event: E, payload: CacheEvents[E]): void {
  (cache as unknown as { events: TypedEmitter }).events.emit(event, payload);
}
