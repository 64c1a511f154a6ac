/**
 * `npm run bench:reliability`: the reliability numbers of issue 25, re-measured.
 *
 * 1. **SQLite under another process's write lock.** An Express 5 app on a `SqliteStore` file, in
 *    this process (so its event-loop delay can be read with `monitorEventLoopDelay`), loaded by
 *    two autocannon processes at once: 25 connections on warm URLs (hits) and 25 on new URLs
 *    (misses, each ending in a write), while a second connection holds `BEGIN EXCLUSIVE` for
 *    the whole run. Measured twice: the store as shipped (no busy timeout), and with SQLite's
 *    250 ms busy timeout put back on its connection (`PRAGMA busy_timeout`), which is the model
 *    before issue 25; and once with no lock held, as the reference for what this machine's load
 *    alone costs. Reported: event-loop delay p99 and max, throughput, hits answered.
 * 2. **Breaker openings on a saturated, healthy Redis.** The same app on a `RedisStore` (100 ms
 *    command timeout) against a local redis-server, 50 connections of hits for `SECONDS`; the
 *    server process saturates its core. Reported: breaker openings (`degraded` events), `get`
 *    timeouts (`error` events), origin calls beyond the first.
 *
 * 3. **Latency through an outage, with and without the fill lock.** The app on a `RedisStore`
 *    (defaults: breaker, 3 s lock wait), 50 in-process connections looping over 20 URLs whose
 *    entries live 1 s (so fills keep happening), origin 20 ms; 2 s in, the redis-server is frozen
 *    (SIGSTOP) for 1.5 s, then resumed. Run with `lock` on (the default) and `lock: false`.
 *    Reported: maximum and p99 latency, and requests slower than 1 s. Locks left behind while
 *    the breaker was open are what stalled requests after recovery before issue 25. (A standalone
 *    server frozen stands in for the Cluster master killed in the issue: no replica here.)
 * Writes `bench/results/reliability.{json,md}` (`BENCH_QUICK=1`: `quick-reliability.*`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import express, { type Request, type Response } from 'express';
import { type Cache, RedisStore, SqliteStore, cacheResponse, createCache } from '../lib';
import { startRedisServer } from '../__tests__/helpers/redis-server';
import { type LoadResult, autocannon } from './lib/load';
import { ProcessGroup, detectPinning } from './lib/processes';

const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = QUICK ? 2 : 8;
const RESULTS = path.resolve(__dirname, 'results', QUICK ? 'quick-reliability' : 'reliability');

interface Served {
  base: string;
  origin: () => number;
  close(): Promise<void>;
}

async function serve(cache: Cache): Promise<Served> {
  let originCalls = 0;
  const app = express();
  app.get('/item', cacheResponse({ cache, ttl: 600 }), (req: Request, res: Response) => {
    originCalls++;
    res.json({ id: String(req.query.id ?? 'warm'), at: Date.now() });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    origin: () => originCalls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function warm(url: string, cache: Cache): Promise<void> {
  const before = cache.stats().sets;
  await (await fetch(url)).arrayBuffer();
  for (let i = 0; i < 200 && cache.stats().sets === before; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  const again = await fetch(url);
  await again.arrayBuffer();
  if (again.headers.get('x-cache') !== 'HIT') throw new Error(`${url} does not hit`);
}

interface SqliteRun {
  model: string;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  hitRps: number;
  missRps: number;
  hits: number;
  failures: number;
  skippedWrites: number;
}

async function sqliteUnderLock(group: ProcessGroup, dir: string, busyTimeoutMs: number, locked = true): Promise<SqliteRun> {
  const store = new SqliteStore({ path: path.join(dir, `lock-${busyTimeoutMs}.db`), pruneIntervalMs: 0 });
  // The model before issue 25: SQLite's busy handler, waiting synchronously on the lock.
  if (busyTimeoutMs > 0) (store as unknown as { db: Database.Database }).db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const cache = createCache({ store });
  cache.on('error', () => undefined);
  const app = await serve(cache);
  const other = new Database(store.path);
  try {
    await warm(`${app.base}/item`, cache);
    const hitsBefore = cache.stats().hits;
    if (locked) other.exec('BEGIN EXCLUSIVE');
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const [hits, misses] = await Promise.all([
      autocannon(group, `${app.base}/item`, { connections: 25, durationSeconds: SECONDS }),
      autocannon(group, `${app.base}/item`, { connections: 25, durationSeconds: SECONDS, unique: true }),
    ]);
    delay.disable();
    if (locked) other.exec('COMMIT');
    return {
      model: !locked ? 'no lock held (the same load, for reference)' : busyTimeoutMs > 0 ? `busy timeout ${busyTimeoutMs} ms (before)` : 'no busy timeout (now)',
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      hitRps: hits.rps,
      missRps: misses.rps,
      hits: cache.stats().hits - hitsBefore,
      failures: hits.failures + misses.failures,
      skippedWrites: store.skippedWrites,
    };
  } finally {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await app.close();
    await cache.close();
  }
}

interface BreakerRun {
  load: LoadResult;
  openings: number;
  getTimeouts: number;
  extraOriginCalls: number;
}

async function breakerOnHealthyRedis(group: ProcessGroup): Promise<BreakerRun> {
  const redis = await startRedisServer();
  group.adopt(redis.pid, 'load');
  const store = new RedisStore({ url: redis.url });
  const cache = createCache({ store });
  let openings = 0;
  let getTimeouts = 0;
  cache.on('degraded', () => void openings++);
  cache.on('error', ({ operation, error }) => {
    if (operation === 'get' && error.name === 'StoreTimeoutError') getTimeouts++;
  });
  const app = await serve(cache);
  try {
    await store.ready();
    await warm(`${app.base}/item`, cache);
    const before = app.origin();
    const load = await autocannon(group, `${app.base}/item`, { connections: 50, durationSeconds: SECONDS });
    return { load, openings, getTimeouts, extraOriginCalls: app.origin() - before };
  } finally {
    await app.close();
    await cache.close();
    await redis.stop();
    group.release(redis.pid);
  }
}

interface OutageRun {
  lock: boolean;
  requests: number;
  maxMs: number;
  p99Ms: number;
  overOneSecond: number;
  failures: number;
}

async function outage(lock: boolean): Promise<OutageRun> {
  const redis = await startRedisServer();
  const store = new RedisStore({ url: redis.url });
  const cache = createCache({ store, ...(lock ? {} : { lock: false as const }) });
  cache.on('error', () => undefined);
  const app = express();
  app.get('/k/:id', cacheResponse({ cache, ttl: 1 }), (req: Request, res: Response) => {
    setTimeout(() => res.json({ id: req.params.id }), 20);
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  const latencies: number[] = [];
  let failures = 0;
  const get = (id: number): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: `/k/${id}`, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - started);
          if (res.statusCode !== 200) failures++;
          resolve();
        });
      });
      req.on('error', () => {
        failures++;
        resolve();
      });
    });
  try {
    await store.ready();
    const until = Date.now() + SECONDS * 1_000;
    const freezeAt = setTimeout(() => process.kill(redis.pid, 'SIGSTOP'), 2_000);
    const resumeAt = setTimeout(() => process.kill(redis.pid, 'SIGCONT'), 3_500);
    await Promise.all(
      Array.from({ length: 50 }, async (_, lane) => {
        for (let i = lane; Date.now() < until; i++) await get(i % 20);
      }),
    );
    clearTimeout(freezeAt);
    clearTimeout(resumeAt);
    process.kill(redis.pid, 'SIGCONT');
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      lock,
      requests: sorted.length,
      maxMs: sorted[sorted.length - 1] ?? 0,
      p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
      overOneSecond: sorted.filter((ms) => ms > 1_000).length,
      failures,
    };
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await cache.close();
    await redis.stop();
  }
}

async function main(): Promise<void> {
  const group = new ProcessGroup(detectPinning());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-reliability-'));
  try {
    const sqlite = [await sqliteUnderLock(group, dir, 250), await sqliteUnderLock(group, dir, 0), await sqliteUnderLock(group, dir, 0, false)];
    const breaker = await breakerOnHealthyRedis(group);
    const outages = [await outage(true), await outage(false)];
    const result = { date: new Date().toISOString(), seconds: SECONDS, node: process.version, cpus: os.cpus().length, sqlite, breaker, outages };
    const md = [
      `# Reliability (issue 25), ${result.date.slice(0, 10)}, ${SECONDS} s per run`,
      '',
      '## SQLite: another connection holds BEGIN EXCLUSIVE for the whole run (25 connections of hits + 25 of misses; the last row holds no lock)',
      '',
      '| model | event-loop delay p99 | max | hits/s | misses/s | hits answered | non-2xx | writes skipped |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...sqlite.map(
        (run) =>
          `| ${run.model} | ${run.loopDelayP99Ms.toFixed(1)} ms | ${run.loopDelayMaxMs.toFixed(1)} ms | ${run.hitRps.toFixed(0)} | ${run.missRps.toFixed(0)} | ${run.hits} | ${run.failures} | ${run.skippedWrites} |`,
      ),
      '',
      '## Healthy Redis, 50 connections of hits, server core saturated',
      '',
      '| requests/s | p99 | breaker openings | get timeouts | origin calls beyond the first |',
      '| --- | --- | --- | --- | --- |',
      `| ${breaker.load.rps.toFixed(0)} | ${breaker.load.p99} ms | ${breaker.openings} | ${breaker.getTimeouts} | ${breaker.extraOriginCalls} |`,
      '',
      '## Redis frozen for 1.5 s under load (50 connections over 20 URLs, entries live 1 s, origin 20 ms)',
      '',
      '| fill lock | requests | max latency | p99 | slower than 1 s | non-2xx |',
      '| --- | --- | --- | --- | --- | --- |',
      ...outages.map((run) => `| ${run.lock ? 'on (default)' : 'off (lock: false)'} | ${run.requests} | ${run.maxMs.toFixed(0)} ms | ${run.p99Ms.toFixed(0)} ms | ${run.overOneSecond} | ${run.failures} |`),
      '',
    ].join('\n');
    writeFileSync(`${RESULTS}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${RESULTS}.md`, md);
    process.stdout.write(md);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  // The process group's reapers hold pipes open: exit once the results are written.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
