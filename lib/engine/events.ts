/** The payload of each cache event. */
export interface CacheEvents {
  /** A read found a fresh entry. */
  hit: { key: string };
  /** A read found an entry past its fresh TTL and served it (stale-while-revalidate, stale-if-error, rate limited). */
  stale: { key: string; reason: 'revalidate' | 'error' | 'rate-limited' };
  /** A read found nothing usable (absent, expired, corrupt, or the store failed). */
  miss: { key: string };
  /** An entry was written. `ttl` is in seconds. */
  set: { key: string; ttl: number };
  /**
   * Entries were removed by `delete`, a pattern, tags, a scope or `clear`; one event per call,
   * naming what was invalidated (with the namespace) and how many entries went.
   */
  delete: { key?: string; pattern?: string; tags?: readonly string[]; scope?: string; count: number };
  /**
   * A store operation failed or timed out, or an entry could not be decoded. Request paths carry
   * on (as a miss, or without storing); this event is how the failure is reported.
   */
  error: { error: Error; operation: string; key?: string };
  /** The store failed repeatedly: its circuit breaker opened; reads and writes use the fallback (or skip the store). */
  degraded: { store: string; error: Error };
  /** The store answered again after being degraded; invalidations issued meanwhile were applied to it. */
  recovered: { store: string; downtimeMs: number };
}

/** The name of a cache event. */
export type CacheEventName = keyof CacheEvents;

/** A listener for event `E`. */
export type CacheListener<E extends CacheEventName> = (payload: CacheEvents[E]) => void;

/**
 * A minimal typed emitter. Unlike Node's EventEmitter, an `error` with no listener does not
 * throw (a cache failure must never become a request failure), and a throwing listener cannot
 * break the operation that emitted.
 * @internal
 */
export class TypedEmitter {
  private readonly listeners: { [E in CacheEventName]?: Set<CacheListener<E>> } = {};

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void {
    let set = this.listeners[event] as Set<CacheListener<E>> | undefined;
    if (!set) {
      set = new Set();
      (this.listeners as Record<string, Set<CacheListener<E>>>)[event] = set;
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    (this.listeners[event] as Set<CacheListener<E>> | undefined)?.delete(listener);
  }

  listenerCount(event: CacheEventName): number {
    return this.listeners[event]?.size ?? 0;
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const set = this.listeners[event] as Set<CacheListener<E>> | undefined;
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch {
        // A listener's bug must not turn into a failed cache read.
      }
    }
  }
}
