import diagnostics from 'node:diagnostics_channel';
import { Pool } from 'pg';
import type { Cluster, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { type Cache, type CacheOptions, MemoryStore, PostgresStore, RedisStore, SqliteStore, createCache } from '../../lib';
import { prometheusMetrics } from '../../lib/metrics/prometheus';
import { CHANNELS } from '../../lib/metrics/tracing';
import { type StoreCapability, runStoreContract } from '../../lib/testing';
import { testPostgresTable, testPostgresUrl } from '../helpers/postgres-server';
import { type RedisCluster, connectCluster, startRedisCluster } from '../helpers/redis-cluster';
import { testRedisClient } from '../helpers/redis';
import { ALL_CAPABILITIES, JEST, SQL_CAPABILITIES } from './contract-api';

/**
 * Every store stack `createCache` assembles, as users get it (`cache.store`): the contract suite
 * runs on each, so a wrapper (L1 tier, breaker and fallback, instrumentation) that drops or
 * bends a capability fails here.
 */
export interface Stack {
  name: string;
  capabilities: StoreCapability[];
  options(): Promise<CacheOptions>;
}

const redisClients: Array<Redis | Cluster> = [];
const pools: Pool[] = [];
let cluster: RedisCluster | undefined;

function redisStore(): RedisStore {
  const client = testRedisClient();
  redisClients.push(client);
  return new RedisStore({ client, operationTimeoutMs: 2_000 });
}

const sqlite = (): SqliteStore => new SqliteStore({ path: ':memory:', pruneIntervalMs: 0 });

let clusterRun = 0;

export const STACKS: Stack[] = [
  { name: 'memory', capabilities: ALL_CAPABILITIES, options: async () => ({}) },
  { name: 'Redis', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore() }) },
  // The L1 only keeps envelopes it can read; the suite's raw bytes always go through to Redis.
  { name: 'Redis + l1 (with its bus)', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore(), l1: { maxEntries: 1_000 } }) },
  { name: 'Redis + MemoryStore fallback (outage)', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore(), fallback: new MemoryStore() }) },
  { name: 'Redis + MemoryStore fallback (mirror)', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore(), fallback: new MemoryStore(), fallbackMode: 'mirror' }) },
  { name: 'Redis + SQLite fallback (outage)', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore(), fallback: sqlite() }) },
  { name: 'Redis + SQLite fallback (mirror)', capabilities: ALL_CAPABILITIES, options: async () => ({ store: redisStore(), fallback: sqlite(), fallbackMode: 'mirror' }) },
  {
    name: 'Redis Cluster',
    capabilities: ALL_CAPABILITIES,
    options: async () => {
      cluster ??= await startRedisCluster(3);
      const client = await connectCluster(cluster, { keyPrefix: `stack${clusterRun++}:`, enableOfflineQueue: true });
      redisClients.push(client);
      return { store: new RedisStore({ client, operationTimeoutMs: 2_000 }) };
    },
  },
  {
    name: 'PostgreSQL',
    capabilities: SQL_CAPABILITIES,
    options: async () => {
      const pool = new Pool({ connectionString: testPostgresUrl(), max: 5 });
      pool.on('error', () => undefined);
      pools.push(pool);
      const store = new PostgresStore({ pool, table: testPostgresTable('stack'), operationTimeoutMs: 5_000 });
      await store.ready();
      return { store };
    },
  },
  { name: 'SQLite', capabilities: SQL_CAPABILITIES, options: async () => ({ store: sqlite() }) },
];

/** A tracing subscriber on the store channel, counting the spans it sees. */
function traceStore(): { spans: () => number; stop(): void } {
  let spans = 0;
  const handlers = { start: () => void spans++, end: () => undefined, asyncStart: () => undefined, asyncEnd: () => undefined, error: () => undefined };
  const channel = diagnostics.tracingChannel(CHANNELS.store);
  channel.subscribe(handlers);
  return { spans: () => spans, stop: () => void channel.unsubscribe(handlers) };
}

/**
 * Runs the exported contract suite on `cache.store` of every stack. `instrumented`: with the
 * Prometheus exporter attached (timing every store call) and a tracer on the store channel, so
 * the instrumentation's own paths are the ones under test.
 */
export function runStackContracts(instrumented: boolean): void {
  const caches: Cache[] = [];
  let tracer: ReturnType<typeof traceStore> | undefined;

  afterAll(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close().catch(() => undefined)));
    await Promise.all(redisClients.splice(0).map((client) => client.quit().catch(() => undefined)));
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    await cluster?.stop();
    cluster = undefined;
  });

  for (const stack of STACKS) {
    describe(`${stack.name}${instrumented ? ', instrumented' : ''}`, () => {
      if (instrumented) {
        beforeEach(() => {
          tracer = traceStore();
        });
        afterEach(() => {
          tracer?.stop();
        });
      }
      // The cache is closed after the suite closed its store (its afterEach runs first).
      afterEach(async () => {
        await Promise.all(caches.splice(0).map((cache) => cache.close().catch(() => undefined)));
      });
      runStoreContract(
        JEST,
        `cache.store of createCache(${stack.name})`,
        async () => {
          const cache = createCache(await stack.options());
          caches.push(cache);
          if (instrumented) prometheusMetrics({ cache, register: new Registry() });
          return cache.store;
        },
        { capabilities: stack.capabilities, timeoutMs: 60_000 },
      );
      if (instrumented) {
        test('store calls reach the Prometheus exporter and the tracer', async () => {
          const cache = createCache(await stack.options());
          caches.push(cache);
          const register = new Registry();
          prometheusMetrics({ cache, register });
          const spansBefore = tracer?.spans() ?? 0;
          await cache.store.set('observed', Buffer.from('v'), 60_000);
          await cache.store.get('observed');
          const metrics = await register.getSingleMetricAsString('http_cache_store_duration_seconds');
          expect(metrics).toMatch(/http_cache_store_duration_seconds_count\{store="[^"]+",operation="get"\} [1-9]/);
          expect(metrics).toMatch(/http_cache_store_duration_seconds_count\{store="[^"]+",operation="set"\} [1-9]/);
          expect((tracer?.spans() ?? 0) - spansBefore).toBeGreaterThanOrEqual(2);
        });
      }
    });
  }
}

