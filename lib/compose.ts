import { RedisBus } from './bus/redis-bus';
import { describePurge } from './cdn/purge';
import { PurgeQueue } from './cdn/purge-queue';
import { Cache } from './engine/cache';
import { TypedEmitter } from './engine/events';
import { type CacheOptions, resolveCacheOptions } from './engine/options';
import { DEFAULT_BREAKER_OPTIONS } from './resilience/options';
import { InvalidOptionError } from './errors';
import { InstrumentedStore } from './metrics/instrumented-store';
import { normaliseNamespace } from './keys';
import { ResilientStore } from './resilience/resilient-store';
import { decodeEntry } from './serializer';
import { MemoryStore } from './stores/memory';
import { RedisStore } from './stores/redis';
import type { Store } from './stores/store';
import { TieredStore } from './stores/tiered';

/** When an envelope stops being fresh, for the L1 tier (which only knows bytes). */
function expiresAt(bytes: Buffer): number | undefined {
  try {
    return decodeEntry(bytes).expiresAt;
  } catch {
    return undefined;
  }
}

/**
 * Creates a cache: the composition root. It assembles the store stack (the L1 tier when `l1` is
 * set, in front of the store wrapped by the circuit breaker with its fallback and invalidation
 * journal, plus the invalidation bus) and hands the engine the composed store; nothing inside
 * the `Cache` builds stores. Without a store it uses a new {@link MemoryStore}.
 *
 * The breaker wraps the store only: while it is open, L1 keeps answering what it holds. Each
 * store is wrapped in an {@link InstrumentedStore} (tracing channel `express-cache-kit:store`,
 * Prometheus timings), inside the breaker, so a call an open breaker skips is not timed.
 *
 * @example
 * ```ts
 * const cache = createCache({ store: new RedisStore({ url: 'redis://127.0.0.1:6379' }), namespace: 'myapp', defaultTtl: 'api_response' });
 * const tiered = createCache({ store: new RedisStore({ url }), namespace: 'myapp', l1: { maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 } });
 * ```
 */
export function createCache(options: CacheOptions = {}): Cache {
  const resolved = resolveCacheOptions(options);
  const events = new TypedEmitter();
  const namespace = normaliseNamespace(resolved.namespace);
  const raw = resolved.store ?? new MemoryStore();
  // Every key, tag, stamp and mark the store keeps for this cache lives inside its namespace
  // (so a Redis ACL limited to `~ns:*` suffices).
  if (raw instanceof RedisStore) raw.claimNamespace(namespace);
  const primary: Store = new InstrumentedStore(raw);
  const fallback = resolved.fallback && new InstrumentedStore(resolved.fallback);
  let tier: TieredStore | undefined;
  // The engine owns error reporting (the event and the one-time warning); the wrapper reports
  // through it. Bound late: the engine is built on the composed store.
  let report: (error: Error, operation: string, key: string | undefined) => void = () => undefined;
  // The wrapper has exactly the capabilities of its primary (see forwardCapabilities). It is
  // there even with `breaker: false`, for its journal: a failed invalidation must be replayed
  // before the store serves reads again. It then never opens on failures, only on those.
  const breaker = resolved.breaker === false ? { ...DEFAULT_BREAKER_OPTIONS, failureThreshold: Number.POSITIVE_INFINITY } : resolved.breaker;
  const resilient = new ResilientStore(primary, fallback, { ...breaker, fallbackMode: resolved.fallbackMode, probeKey: `${namespace}__probe__`, namespace }, {
    error: (error, operation, key) => report(error, operation, key),
    degraded: (error) => {
      tier?.l2Degraded();
      events.emit('degraded', { store: primary.name, error });
    },
    recovered: (downtimeMs) => {
      tier?.l2Recovered();
      events.emit('recovered', { store: primary.name, downtimeMs });
    },
  });
  let store: Store = resilient;
  let bus: RedisBus | undefined;
  if (resolved.l1 !== undefined) {
    if (resolved.bus !== undefined && resolved.bus !== false && !(raw instanceof RedisStore)) {
      throw new InvalidOptionError('bus', 'the invalidation bus needs a RedisStore as "store"; pass bus: false for an L1 without one');
    }
    if (resolved.bus !== false && raw instanceof RedisStore) {
      const channel = resolved.bus?.channel ?? `${namespace}__bus__`;
      bus = new RedisBus(raw.client, channel, resolved.bus?.subscriber, raw.operationTimeoutMs);
    }
    tier = new TieredStore(resilient, resolved.l1, { expiresAt, degraded: () => resilient.degraded }, bus);
    store = tier;
  } else if (resolved.bus !== undefined && resolved.bus !== false) {
    throw new InvalidOptionError('bus', 'the bus keeps L1 tiers coherent: set "l1" too, or drop "bus"');
  }
  // The CDN purge queue reports through the engine, like the store stack (bound late).
  const purges = resolved.purge && new PurgeQueue(resolved.purge, (error, request) => report(error, 'purge', describePurge(request)));
  const cache = new Cache(store, events, resolved, false, purges);
  report = (error, operation, key) => cache.reportError(error, operation, key);
  if (bus !== undefined && tier !== undefined) {
    const l1 = tier;
    bus.on('message', (message) => {
      l1.applyRemote(message);
      cache.applyRemoteInvalidation(message.kind === 'set' ? { keys: message.keys } : { ...message, clear: message.kind === 'clear' });
    });
    bus.on('down', () => l1.busDown());
    bus.on('up', () => l1.busUp());
    bus.on('error', ({ error, operation }) => events.emit('error', { error, operation: `bus.${operation}` }));
  }
  return cache;
}
