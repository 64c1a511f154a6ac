/**
 * The child process of the tiers scenario (see `bench/scenarios/tiers.ts`), run with
 * `node --import tsx bench/scenarios/tiers-process.ts MODE REDIS_URL [...]`:
 *
 * - `serve VARIANT`: an Express app whose `GET /item` answers the ~1 KB bench body through
 *   VARIANT: `memory` (cacheResponse + MemoryStore), `l1` (cacheResponse + L1 tier over
 *   RedisStore, with the bus), `redis` (cacheResponse + RedisStore, no L1) or `raw-get` (one
 *   ioredis GET of the stored bytes and `res.end`, no cache library). Prints `{"port":N}` and
 *   exits when stdin closes.
 * - `propagation COUNT`: two caches A and B with L1 and the bus; B holds a copy of COUNT
 *   tagged keys; for each, times `A.invalidateTags([tag])` until B's bus has dropped B's copy.
 *   Prints `{ count, p50Ms, p99Ms, maxMs }`.
 * - `hitpath COUNT`: in this one process, server CPU per `cache.getResponse` hit through
 *   MemoryStore and through the L1 tier (over Redis), COUNT hits each, three interleaved rounds;
 *   no HTTP, so it isolates what the tier adds to a hit. Prints `{ memoryUs: [...], l1Us: [...] }`.
 * - `memory COUNT` (with `--expose-gc`): heap and RSS growth per L1 copy after COUNT writes of
 *   the bench body through an L1 over Redis (the store's bytes live in Redis, not here).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { Redis } from 'ioredis';
import { type Cache, MemoryStore, RedisStore, cacheResponse, createCache, getResponse, setResponse } from '../../lib';
import type { TieredStore } from '../../lib/stores/tiered';
import { benchBody } from '../lib/body';

const TTL_SECONDS = 300;
const body = benchBody();
const bodyBytes = Buffer.from(JSON.stringify(body));
const bodyEtag = `W/"${bodyBytes.length.toString(16)}-${createHash('sha1').update(bodyBytes).digest('base64').slice(0, 27)}"`;
const counters = { originCalls: 0, cacheErrors: 0 };

function watch(cache: Cache): Cache {
  cache.on('error', () => void counters.cacheErrors++);
  return cache;
}

async function redisCache(url: string, namespace: string, l1: boolean, operationTimeoutMs?: number): Promise<Cache> {
  const store = new RedisStore({ url, operationTimeoutMs });
  await store.ready();
  const cache = watch(createCache({ store, namespace, ...(l1 ? { l1: { maxEntries: 200_000, maxBytes: 512 * 1024 * 1024 } } : {}) }));
  if (l1) await (cache.store as TieredStore).ready();
  return cache;
}

async function serve(variant: string, url: string): Promise<void> {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  const app = express();
  app.get('/stats', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const cpu = process.cpuUsage();
    res.json({ ...counters, cpuMicros: cpu.user + cpu.system });
  });
  const origin: RequestHandler = (_req, res) => {
    counters.originCalls++;
    res.json(body);
  };
  if (variant === 'raw-get') {
    // The same client settings RedisStore gives the client it creates (auto-pipelining on).
    const client = new Redis(url, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    await client.set('raw:item', bodyBytes, 'EX', TTL_SECONDS);
    app.get('/item', async (_req, res) => {
      const bytes = await client.getBuffer('raw:item');
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('ETag', bodyEtag);
      res.setHeader('Content-Length', bytes?.length ?? 0);
      res.end(bytes);
    });
  } else {
    const cache =
      variant === 'memory' ? watch(createCache({ store: new MemoryStore() })) : await redisCache(url, `tiers-${variant}`, variant === 'l1');
    if (!['memory', 'l1', 'redis'].includes(variant)) throw new Error(`unknown variant ${variant}`);
    app.get('/item', cacheResponse({ cache, ttl: TTL_SECONDS, keyPrefix: 'item' }), origin);
  }
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

async function propagation(url: string, count: number): Promise<void> {
  // A generous timeout: this measures the bus, not how the store copes with a loaded machine.
  const a = await redisCache(url, 'tiers-propagation', true, 2_000);
  const b = await redisCache(url, 'tiers-propagation', true, 2_000);
  const tierB = b.store as TieredStore;
  const bus = tierB.bus;
  if (bus === undefined) throw new Error('no bus');
  const keys = Array.from({ length: count }, (_, i) => `character:${i}`);
  // Let B hear every set message (each drops B's copy) before B takes its copies.
  const allHeard = new Promise<void>((resolve) => {
    let heard = 0;
    const off = bus.on('message', () => {
      if (++heard < count) return;
      off();
      resolve();
    });
  });
  for (const [i, key] of keys.entries()) await a.set(key, body, { tags: [`character:${i}`] });
  await allHeard;
  for (const key of keys) await b.get(key);
  if (tierB.size !== count) throw new Error(`B holds ${tierB.size} copies, expected ${count}`);
  const latencies: number[] = [];
  for (const [i, key] of keys.entries()) {
    const full = b.namespacePrefix + key;
    const dropped = new Promise<void>((resolve) => {
      // The tier's own listener runs first (it subscribed first): when this one runs, the copy is gone.
      const off = bus.on('message', () => {
        if (tierB.holds(full)) return;
        off();
        resolve();
      });
    });
    const started = performance.now();
    await a.invalidateTags([`character:${i}`]);
    await dropped;
    latencies.push(performance.now() - started);
  }
  latencies.sort((x, y) => x - y);
  process.stdout.write(
    `${JSON.stringify({ count, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: latencies[latencies.length - 1] })}\n`,
  );
  await Promise.all([a.close(), b.close()]);
}

async function hitpath(url: string, count: number): Promise<void> {
  const memoryCache = createCache({ store: new MemoryStore() });
  const l1Cache = await redisCache(url, 'tiers-hitpath', true, 2_000);
  const response = { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', etag: bodyEtag }, body: bodyBytes };
  for (const cache of [memoryCache, l1Cache]) await setResponse(cache, 'api:item:x', response);
  // getResponse reads without an outcome event (stats() would count nothing): count misses here.
  let missed = 0;
  const perHit = async (cache: Cache): Promise<number> => {
    const started = process.cpuUsage();
    for (let i = 0; i < count; i++) if ((await getResponse(cache, 'api:item:x')) === undefined) missed++;
    const used = process.cpuUsage(started);
    return (used.user + used.system) / count;
  };
  const memoryUs: number[] = [];
  const l1Us: number[] = [];
  for (let round = 0; round < 3; round++) {
    memoryUs.push(await perHit(memoryCache));
    l1Us.push(await perHit(l1Cache));
  }
  if (missed > 0) throw new Error(`${missed} hit-path reads missed`);
  process.stdout.write(`${JSON.stringify({ count, memoryUs, l1Us })}\n`);
  await Promise.all([memoryCache.close(), l1Cache.close()]);
}

async function memory(url: string, count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const cache = await redisCache(url, 'tiers-memory', true, 2_000);
  const tier = cache.store as TieredStore;
  const settle = (): NodeJS.MemoryUsage => {
    gc();
    gc();
    return process.memoryUsage();
  };
  const before = settle();
  for (let i = 0; i < count; i++) {
    await setResponse(cache, `api:item:${i}`, { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', etag: bodyEtag }, body: bodyBytes });
  }
  const after = settle();
  if (tier.size !== count) throw new Error(`L1 holds ${tier.size} copies, expected ${count}`);
  process.stdout.write(
    `${JSON.stringify({
      count,
      payloadBytes: bodyBytes.length,
      countedBytesPerEntry: tier.bytes / count,
      // Buffers live outside the JS heap: `external` counts them.
      heapBytesPerEntry: (after.heapUsed + after.external - before.heapUsed - before.external) / count,
      rssBytesPerEntry: (after.rss - before.rss) / count,
    })}\n`,
  );
  await cache.close();
}

async function main(): Promise<void> {
  const [mode, url, arg] = process.argv.slice(2);
  if (!url) throw new Error('usage: tiers-process.ts serve|propagation|memory REDIS_URL ARG');
  if (mode === 'serve') return serve(arg ?? '', url);
  if (mode === 'propagation') return propagation(url, Number(arg));
  if (mode === 'memory') return memory(url, Number(arg));
  if (mode === 'hitpath') return hitpath(url, Number(arg));
  throw new Error(`unknown mode ${String(mode)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`tiers-process failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
