import type { BypassReason, CacheEventName, CacheListener, UncacheableReason } from '../engine/events';
import { endpointOfKey } from './endpoint';

/** The most endpoints counted one by one; the rest share {@link OTHER_ENDPOINT}. */
export const DEFAULT_MAX_ENDPOINTS = 200;

/** Where requests of endpoints beyond `maxEndpoints` are counted, so hostile paths cannot grow the table. */
export const OTHER_ENDPOINT = '(other)';

/** Outcome counters of one endpoint (or of the whole cache). */
export interface OutcomeCounts {
  /** Answers from a fresh entry (304s from a stored entry included). */
  hits: number;
  /** Origin answers that were stored (or storable). */
  misses: number;
  /** Answers from an entry past its TTL (stale-while-revalidate, stale-if-error, rate limited). */
  stale: number;
  /** Origin answers that could not be stored (see `uncacheableReasons`). */
  uncacheable: number;
  /** Requests that skipped the cache (see `bypassReasons`). */
  bypassed: number;
  /** Requests refused by the origin limiter with nothing stale to serve. */
  limited: number;
  /** 304 answers from a stored entry (also counted in `hits`). */
  notModified: number;
  /**
   * `hits / (hits + misses)`: over cacheable requests only, so a route that can never be cached
   * (all `uncacheable` or `bypassed`) does not look like a cold one. 0 before any.
   */
  hitRate: number;
}

/** Per-endpoint counters, with the reasons behind `uncacheable` and `bypassed`. */
export interface EndpointStats extends OutcomeCounts {
  uncacheableReasons: Partial<Record<UncacheableReason, number>>;
  bypassReasons: Partial<Record<BypassReason, number>>;
}

/** What {@link StatsCollector.snapshot} (and `cache.stats()`) returns. */
export interface StatsSnapshot extends OutcomeCounts {
  /** Entries written. */
  sets: number;
  /** Entries removed by invalidations. */
  deletes: number;
  /** Store failures and undecodable entries (`error` events). */
  errors: number;
  uncacheableReasons: Partial<Record<UncacheableReason, number>>;
  bypassReasons: Partial<Record<BypassReason, number>>;
  /**
   * Requests by endpoint: the middleware's (`keyPrefix` or route path), or for `wrap`/`get`
   * calls the key's type (`character:char_1` → `character`); at most `maxEndpoints` names, the
   * rest under `'(other)'`.
   */
  endpoints: Record<string, EndpointStats>;
}

/** The event source a collector listens to: a `Cache` or its emitter. */
export interface EventSource {
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): () => void;
}

interface Counts {
  hits: number;
  misses: number;
  stale: number;
  uncacheable: number;
  bypassed: number;
  limited: number;
  notModified: number;
  uncacheableReasons: Map<UncacheableReason, number>;
  bypassReasons: Map<BypassReason, number>;
}

function emptyCounts(): Counts {
  return { hits: 0, misses: 0, stale: 0, uncacheable: 0, bypassed: 0, limited: 0, notModified: 0, uncacheableReasons: new Map(), bypassReasons: new Map() };
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function hitRate(hits: number, misses: number): number {
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}

function freeze(counts: Counts): EndpointStats {
  return {
    hits: counts.hits,
    misses: counts.misses,
    stale: counts.stale,
    uncacheable: counts.uncacheable,
    bypassed: counts.bypassed,
    limited: counts.limited,
    notModified: counts.notModified,
    hitRate: hitRate(counts.hits, counts.misses),
    uncacheableReasons: Object.fromEntries(counts.uncacheableReasons),
    bypassReasons: Object.fromEntries(counts.bypassReasons),
  };
}

/**
 * Statistics as one more event listener: totals, reasons and per-endpoint counters, fed by the
 * cache's outcome events (`hit`, `miss`, `stale`, `uncacheable`, `bypass`, `limited`,
 * `not-modified`) and by `set`, `delete` and `error`. Nothing in the request path counts.
 *
 * The endpoint table is bounded: the first `maxEndpoints` names seen get their own row, later
 * ones share `'(other)'`, so a client inventing paths cannot grow memory.
 *
 * @example
 * ```ts
 * const stats = new StatsCollector();
 * stats.attach(cache);
 * // ... traffic ...
 * console.log(stats.snapshot().endpoints['character']?.hitRate);
 * ```
 */
export class StatsCollector {
  /** Most endpoint names with a row of their own. */
  readonly maxEndpoints: number;
  private readonly totals = emptyCounts();
  private readonly byEndpoint = new Map<string, Counts>();
  private readonly other = { sets: 0, deletes: 0, errors: 0 };

  private readonly namespace: string;
  private readonly keyEndpoints = new Map<string, string>();

  /**
   * `namespace` is the cache's (normalised, e.g. `myapp:`): events without an endpoint (`wrap`,
   * `get`) are counted under their key's type, read after it.
   */
  constructor(options: { maxEndpoints?: number; namespace?: string } = {}) {
    this.maxEndpoints = options.maxEndpoints ?? DEFAULT_MAX_ENDPOINTS;
    this.namespace = options.namespace ?? '';
  }

  /**
   * The row an event is counted under: its `endpoint`, else its key's endpoint (`api:{endpoint}:`
   * keys) or type (`character:1` → `character`), bounded like {@link endpointName}; `undefined`
   * when the event names neither.
   */
  rowOf(payload: { key?: string; endpoint?: string }): string | undefined {
    if (payload.endpoint !== undefined) return this.endpointName(payload.endpoint);
    if (payload.key === undefined) return undefined;
    let endpoint = this.keyEndpoints.get(payload.key);
    if (endpoint === undefined) {
      const key = payload.key.startsWith(this.namespace) ? payload.key.slice(this.namespace.length) : payload.key;
      endpoint = endpointOfKey(key);
      // A bounded memo: hot keys are parsed once, a flood of one-off keys costs a clear now and then.
      if (this.keyEndpoints.size >= 1_000) this.keyEndpoints.clear();
      this.keyEndpoints.set(payload.key, endpoint);
    }
    return this.endpointName(endpoint);
  }

  /**
   * The row name `endpoint` is counted under: itself while there is room (or once it has a row),
   * else `'(other)'`. Other views (Prometheus labels) use it to stay bounded the same way.
   */
  endpointName(endpoint: string): string {
    if (this.byEndpoint.has(endpoint)) return endpoint;
    return this.byEndpoint.size < this.maxEndpoints ? endpoint : OTHER_ENDPOINT;
  }

  /** Subscribes to `source`'s events; returns a function that unsubscribes them all. */
  attach(source: EventSource): () => void {
    const offs = [
      source.on('hit', (e) => this.count(e, (c) => c.hits++)),
      source.on('miss', (e) => this.count(e, (c) => c.misses++)),
      source.on('stale', (e) => this.count(e, (c) => c.stale++)),
      source.on('limited', (e) => this.count(e, (c) => c.limited++)),
      // A 304 is answered from a stored entry: a hit, also counted on its own.
      source.on('not-modified', (e) =>
        this.count(e, (c) => {
          c.hits++;
          c.notModified++;
        }),
      ),
      source.on('uncacheable', (e) =>
        this.count(e, (c) => {
          c.uncacheable++;
          bump(c.uncacheableReasons, e.reason);
        }),
      ),
      source.on('bypass', (e) =>
        this.count(e, (c) => {
          c.bypassed++;
          bump(c.bypassReasons, e.reason);
        }),
      ),
      source.on('set', () => void this.other.sets++),
      source.on('delete', ({ count }) => void (this.other.deletes += count)),
      source.on('error', () => void this.other.errors++),
    ];
    return () => offs.forEach((off) => off());
  }

  /** The counters now, as plain data (safe to serialise or keep). */
  snapshot(): StatsSnapshot {
    const endpoints: Record<string, EndpointStats> = {};
    for (const [name, counts] of this.byEndpoint) endpoints[name] = freeze(counts);
    return { ...freeze(this.totals), ...this.other, endpoints };
  }

  private count(payload: { key?: string; endpoint?: string }, apply: (counts: Counts) => void): void {
    apply(this.totals);
    const name = this.rowOf(payload);
    if (name === undefined) return;
    let counts = this.byEndpoint.get(name);
    if (counts === undefined) {
      counts = emptyCounts();
      this.byEndpoint.set(name, counts);
    }
    apply(counts);
  }
}

interface StatsSource extends EventSource {
  readonly namespacePrefix?: string;
}

const attached = new WeakMap<object, StatsCollector>();

/**
 * The per-endpoint statistics of `cache`: those of its own collector when the engine has one
 * (`cache.statsCollector`, behind `cache.stats()`), else of a collector attached on the first
 * call (which counts from then on). The dashboard and the Prometheus exporter read stats
 * through this.
 *
 * @example
 * ```ts
 * const { endpoints } = statsOf(cache);
 * ```
 */
export function statsOf(cache: StatsSource): StatsSnapshot {
  return collectorOf(cache).snapshot();
}

/**
 * A collector listening to `cache`, created and attached on the first call for that cache, so
 * several views share one set of counters. @internal
 */
export function collectorOf(cache: EventSource & { readonly namespacePrefix?: string }): StatsCollector {
  // The engine's own collector when it has one (Cache.stats() delegating to it): one set of
  // counters, counted once per event.
  const own = (cache as { readonly statsCollector?: unknown }).statsCollector;
  if (own instanceof StatsCollector) return own;
  let collector = attached.get(cache);
  if (collector === undefined) {
    collector = new StatsCollector({ namespace: cache.namespacePrefix });
    collector.attach(cache);
    attached.set(cache, collector);
  }
  return collector;
}
