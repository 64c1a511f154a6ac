import type { Request, RequestHandler, Response } from 'express';
import type * as PromClient from 'prom-client';
import type { Cache } from '../engine/cache';
import type { CacheEventName } from '../engine/events';
import { InvalidOptionError, loadPeer } from '../errors';
import { InstrumentedStore, storeLayers } from './instrumented-store';
import { collectorOf } from './stats';
import { optionNames, rejectUnknownOptions } from '../validate';

const PROMETHEUS_OPTION_NAMES = optionNames<PrometheusMetricsOptions>({ cache: true, register: true, originBuckets: true, storeBuckets: true, authorize: true });

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** The cache to export. */
  cache: Cache;
  /**
   * The prom-client registry to register the metrics in.
   * @default prom-client's default `register`
   */
  register?: PromClient.Registry;
  /**
   * Histogram buckets of `http_cache_origin_duration_seconds`, in seconds.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  originBuckets?: number[];
  /**
   * Histogram buckets of `http_cache_store_duration_seconds`, in seconds: store calls are
   * sub-millisecond on a healthy Redis, so these start lower.
   * @default [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]
   */
  storeBuckets?: number[];
  /**
   * Who may read the metrics: called with each request, which is answered 403 unless it
   * returns (or resolves) `true`; a throw counts as `false`. The metrics name endpoints, stores
   * and error rates, so an app whose `/metrics` route is reachable from outside should pass one
   * (or mount the route on a port only the scraper reaches). Without it, every request is served,
   * as before.
   * @default undefined (no check)
   * @example
   * ```ts
   * prometheusMetrics({ cache, authorize: (req) => req.get('authorization') === `Bearer ${process.env.METRICS_TOKEN}` });
   * ```
   */
  authorize?: (req: Request) => boolean | Promise<boolean>;
}

/** An Express handler serving the metrics, with a way to stop collecting. */
export interface PrometheusHandler extends RequestHandler {
  /** The registry the metrics live in. */
  readonly register: PromClient.Registry;
  /** Unsubscribes from the cache and removes the metrics from the registry. */
  close(): void;
}

const ORIGIN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
const OUTCOMES = ['hit', 'miss', 'stale', 'uncacheable', 'bypass', 'limited', 'not-modified'] as const satisfies readonly CacheEventName[];
/** Label of events naming neither an endpoint nor a key. */
const NO_ENDPOINT = '(none)';

function loadPromClient(): typeof PromClient {
  // Loaded lazily: prom-client is an optional peer, needed only by users of this entry point.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadPeer('express-cache-kit/prometheus', 'prom-client', () => require('prom-client') as typeof PromClient);
}

/**
 * Registers the cache's metrics with prom-client and returns an Express handler that serves
 * the registry in the Prometheus text format. Everything is fed by cache events and by the
 * store wrapper {@link InstrumentedStore}, never by counters in the request path:
 *
 * | metric | type | labels | from |
 * | --- | --- | --- | --- |
 * | `http_cache_requests_total` | counter | `endpoint`, `outcome` (`hit`, `miss`, `stale`, `uncacheable`, `bypass`, `limited`, `not-modified`) | outcome events |
 * | `http_cache_origin_duration_seconds` | histogram | `endpoint` | `fill` events |
 * | `http_cache_store_duration_seconds` | histogram | `store`, `operation` | each store call |
 * | `http_cache_errors_total` | counter | `store`, `operation` | `error` events |
 * | `http_cache_breaker_open` | gauge (0/1) | `store` | `degraded` / `recovered` |
 * | `http_cache_entries`, `http_cache_bytes` | gauge | `store` | stores that know them (MemoryStore) |
 *
 * `endpoint` labels are the rows of `cache.stats().endpoints`: the middleware's endpoint, or for
 * `wrap` calls the key's type (`character:1` → `character`), bounded to 200 then `(other)`.
 * prom-client is an optional peer dependency: install it to use this entry point.
 *
 * @example
 * ```ts
 * import { prometheusMetrics } from 'express-cache-kit/prometheus';
 * app.get('/metrics', prometheusMetrics({ cache }));
 * // Kept private: only the scraper's token is answered, everyone else gets 403.
 * app.get('/metrics', prometheusMetrics({ cache, authorize: (req) => req.get('authorization') === `Bearer ${process.env.METRICS_TOKEN}` }));
 * ```
 */
export function prometheusMetrics(options: PrometheusMetricsOptions): PrometheusHandler {
  if (options === null || typeof options !== 'object' || typeof (options as { cache?: Cache }).cache?.on !== 'function') {
    throw new InvalidOptionError('cache', 'prometheusMetrics needs { cache }: the Cache to export (from createCache)');
  }
  rejectUnknownOptions('prometheusMetrics', options, PROMETHEUS_OPTION_NAMES);
  const { cache, authorize } = options;
  if (authorize !== undefined && typeof authorize !== 'function') throw new InvalidOptionError('authorize', 'expected a function (req) => boolean');
  const client = loadPromClient();
  const register = options.register ?? client.register;
  const registers = [register];
  const endpoints = collectorOf(cache);
  const storeName = cache.store.name;

  const requests = new client.Counter({
    name: 'http_cache_requests_total',
    help: 'Requests through the cache by endpoint and outcome.',
    labelNames: ['endpoint', 'outcome'],
    registers,
  });
  const origin = new client.Histogram({
    name: 'http_cache_origin_duration_seconds',
    help: 'How long origin calls (fills) took, by endpoint.',
    labelNames: ['endpoint'],
    buckets: options.originBuckets ?? ORIGIN_BUCKETS,
    registers,
  });
  const storeDuration = new client.Histogram({
    name: 'http_cache_store_duration_seconds',
    help: 'How long store operations took, by store and operation.',
    labelNames: ['store', 'operation'],
    buckets: options.storeBuckets ?? STORE_BUCKETS,
    registers,
  });
  const errors = new client.Counter({
    name: 'http_cache_errors_total',
    help: 'Store failures (and undecodable entries), by store and operation.',
    labelNames: ['store', 'operation'],
    registers,
  });
  const breaker = new client.Gauge({
    name: 'http_cache_breaker_open',
    help: '1 while the store circuit breaker is open (the store is being skipped), else 0.',
    labelNames: ['store'],
    registers,
  });
  breaker.set({ store: storeName }, 0);
  const layers = storeLayers(cache.store);
  const sized = layers.filter((layer): layer is typeof layer & { size: number; bytes: number } => {
    const record = layer as unknown as { size?: unknown; bytes?: unknown };
    return typeof record.size === 'number' && typeof record.bytes === 'number';
  });
  // Read at scrape time: nothing to update on the request path.
  new client.Gauge({
    name: 'http_cache_entries',
    help: 'Entries held, by store (where the store can tell).',
    labelNames: ['store'],
    registers,
    collect() {
      for (const layer of sized) this.set({ store: layer.name }, layer.size);
    },
  });
  new client.Gauge({
    name: 'http_cache_bytes',
    help: 'Bytes held, by store (where the store can tell).',
    labelNames: ['store'],
    registers,
    collect() {
      for (const layer of sized) this.set({ store: layer.name }, layer.bytes);
    },
  });

  // Label children are looked up once per label set: prom-client hashes a label object on every
  // call otherwise, which is most of the cost on a hit.
  const requestChildren = new Map<string, PromClient.Counter.Internal>();
  const storeChildren = new Map<string, PromClient.Histogram.Internal<'store' | 'operation'>>();
  const offs: Array<() => void> = [];
  for (const outcome of OUTCOMES) {
    offs.push(
      cache.on(outcome, (event) => {
        const endpoint = endpoints.rowOf(event) ?? NO_ENDPOINT;
        const id = `${outcome}\n${endpoint}`;
        let child = requestChildren.get(id);
        if (child === undefined) requestChildren.set(id, (child = requests.labels({ endpoint, outcome })));
        child.inc();
      }),
    );
  }
  offs.push(cache.on('fill', (event) => origin.observe({ endpoint: endpoints.rowOf(event) ?? NO_ENDPOINT }, event.durationMs / 1000)));
  offs.push(cache.on('error', ({ operation }) => errors.inc({ store: storeName, operation })));
  offs.push(cache.on('degraded', ({ store }) => breaker.set({ store }, 1)));
  offs.push(cache.on('recovered', ({ store }) => breaker.set({ store }, 0)));
  for (const layer of layers) {
    if (!(layer instanceof InstrumentedStore)) continue;
    offs.push(
      layer.observe(({ store, operation, durationMs }) => {
        const id = `${store}\n${operation}`;
        let child = storeChildren.get(id);
        if (child === undefined) storeChildren.set(id, (child = storeDuration.labels({ store, operation })));
        child.observe(durationMs / 1000);
      }),
    );
  }

  const serve = async (req: Request, res: Response): Promise<void> => {
    if (authorize !== undefined) {
      let allowed = false;
      try {
        allowed = (await authorize(req)) === true;
      } catch {
        allowed = false;
      }
      if (!allowed) {
        res.statusCode = 403;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('Forbidden\n');
        return;
      }
    }
    try {
      const text = await register.metrics();
      res.setHeader('Content-Type', register.contentType);
      res.end(text);
    } catch (error) {
      res.statusCode = 500;
      res.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const names = ['http_cache_requests_total', 'http_cache_origin_duration_seconds', 'http_cache_store_duration_seconds', 'http_cache_errors_total', 'http_cache_breaker_open', 'http_cache_entries', 'http_cache_bytes'];
  return Object.assign(serve, {
    register,
    close(): void {
      offs.splice(0).forEach((off) => off());
      for (const name of names) register.removeSingleMetric(name);
    },
  });
}
