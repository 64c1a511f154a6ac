/**
 * Store scenario, two modes (each run in its own process by `bench/lib/stores-bench.ts`):
 *
 * - `latency REDIS_URL PG_URL OPS`: for MemoryStore, RedisStore, SqliteStore (a file in a temp
 *   dir) and PostgresStore, OPS sequential `set`s of 1 KB then OPS sequential `get`s of random
 *   written keys, each timed alone; then `prune()` of 50 and of 100,000 expired rows on the two
 *   SQL stores (rows inserted in bulk by SQL, outside the timing). Prints one JSON object.
 * - `serve KIND REDIS_URL PG_URL`: an Express 5 app with `cacheResponse` on that store in front
 *   of the bench's ~1 KB body at `/item` (and `/stats` like `bench/server.ts`); prints
 *   `{"port":N}` when ready and exits when its stdin closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import { Pool } from 'pg';
import { type Cache, MemoryStore, PostgresStore, RedisStore, SqliteStore, type Store, cacheResponse, createCache } from '../../lib';
import { benchBody } from '../lib/body';

const STORE_KINDS = ['memory', 'redis', 'sqlite', 'postgres'] as const;
type Kind = (typeof STORE_KINDS)[number];

const VALUE = Buffer.alloc(1_024, 0x61);
const TTL_MS = 600_000;
const MAX_LIFETIME_MS = 20 * 60_000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function summary(samples: number[]): { p50Us: number; p99Us: number; meanUs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 10) / 10;
  return { p50Us: round(quantile(sorted, 0.5)), p99Us: round(quantile(sorted, 0.99)), meanUs: round(sorted.reduce((s, n) => s + n, 0) / sorted.length) };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1_000;
}

function storeOf(kind: Kind, redisUrl: string, pgUrl: string, dir: string): Store {
  switch (kind) {
    case 'memory':
      return new MemoryStore({ maxEntries: 1_000_000, maxBytes: 1024 * 1024 * 1024 });
    case 'redis':
      return new RedisStore({ url: redisUrl });
    case 'sqlite':
      return new SqliteStore({ path: path.join(dir, 'bench.db'), pruneIntervalMs: 0 });
    case 'postgres':
      return new PostgresStore({ connectionString: pgUrl, table: 'bench_entries', pruneIntervalMs: 0 });
  }
}

async function readyOf(store: Store): Promise<void> {
  if (store instanceof RedisStore || store instanceof PostgresStore) await store.ready();
}

async function latency(redisUrl: string, pgUrl: string, ops: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-bench-stores-'));
  const result: Record<string, unknown> = {};
  try {
    for (const kind of STORE_KINDS) {
      const store = storeOf(kind, redisUrl, pgUrl, dir);
      await readyOf(store);
      await store.clear();
      const sets: number[] = [];
      const gets: number[] = [];
      let misses = 0;
      for (let i = 0; i < ops; i++) sets.push(await timed(() => store.set(`bench:${i}`, VALUE, TTL_MS)));
      for (let i = 0; i < ops; i++) {
        const key = `bench:${Math.floor(Math.random() * ops)}`;
        gets.push(
          await timed(async () => {
            if ((await store.get(key)) === undefined) misses++;
          }),
        );
      }
      result[kind] = { set: summary(sets), get: summary(gets), misses };
      await store.clear();
      await store.close();
    }
    result.prune = await pruneTimings(pgUrl, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

/** `prune()` of `count` expired rows (plus 1,000 live ones it must keep), for both SQL stores. */
async function pruneTimings(pgUrl: string, dir: string): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = { sqlite: {}, postgres: {} };
  for (const count of [50, 100_000]) {
    const file = path.join(dir, `prune-${count}.db`);
    const sqlite = new SqliteStore({ path: file, pruneIntervalMs: 0 });
    const db = new Database(file);
    const insert = db.prepare(`INSERT INTO cache_entries (cache_key, cache_value, created_at, expires_at, hit_count, last_accessed_at) VALUES (?, ?, ?, ?, 0, ?)`);
    const now = Date.now();
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(`old:${i}`, VALUE, now - 60_000, now - 1_000, now - 60_000);
      for (let i = 0; i < 1_000; i++) insert.run(`live:${i}`, VALUE, now, now + TTL_MS, now);
    })();
    db.close();
    let removed = 0;
    out.sqlite = { ...out.sqlite, [`ms${count}`]: (await timed(async () => void (removed = await sqlite.prune()))) / 1_000 };
    if (removed !== count) throw new Error(`SqliteStore pruned ${removed} of ${count} expired rows`);
    await sqlite.close();

    const table = `bench_prune_${count}`;
    const postgres = new PostgresStore({ connectionString: pgUrl, table, pruneIntervalMs: 0 });
    await postgres.ready();
    const pool = new Pool({ connectionString: pgUrl });
    await pool.query(`DELETE FROM ${table}`);
    await pool.query(
      `INSERT INTO ${table} (cache_key, cache_value, created_at, expires_at) SELECT 'old:' || g, $1, now() - interval '1 minute', now() - interval '1 second' FROM generate_series(1, $2::int) g`,
      [VALUE, count],
    );
    await pool.query(`INSERT INTO ${table} (cache_key, cache_value, expires_at) SELECT 'live:' || g, $1, now() + interval '1 hour' FROM generate_series(1, 1000) g`, [VALUE]);
    await pool.query(`VACUUM ANALYZE ${table}`);
    await pool.end();
    out.postgres = { ...out.postgres, [`ms${count}`]: (await timed(async () => void (removed = await postgres.prune()))) / 1_000 };
    if (removed !== count) throw new Error(`PostgresStore pruned ${removed} of ${count} expired rows`);
    await postgres.close();
  }
  return out;
}

async function serve(kind: Kind, redisUrl: string, pgUrl: string): Promise<void> {
  setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-bench-serve-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // The runner stops services with SIGTERM; exiting through 'exit' removes the temp dir.
  process.once('SIGTERM', () => process.exit(0));
  const store = storeOf(kind, redisUrl, pgUrl, dir);
  await readyOf(store);
  const counters = { originCalls: 0, slowOriginCalls: 0, cacheErrors: 0 };
  const cache: Cache = createCache({ store, namespace: 'bench' });
  cache.on('error', () => void counters.cacheErrors++);
  const body = benchBody();
  const app = express();
  app.get('/stats', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const cpu = process.cpuUsage();
    res.json({ ...counters, cpuMicros: cpu.user + cpu.system });
  });
  app.get('/item', cacheResponse({ cache, ttl: 300, keyPrefix: 'item' }), (_req, res) => {
    counters.originCalls++;
    res.json(body);
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'latency') {
    const [redisUrl, pgUrl, opsText] = args as [string, string, string];
    process.stdout.write(JSON.stringify(await latency(redisUrl, pgUrl, Number(opsText))));
    process.exit(0);
  }
  if (mode === 'serve' && (STORE_KINDS as readonly string[]).includes(args[0] ?? '')) {
    await serve(args[0] as Kind, args[1] as string, args[2] as string);
    return;
  }
  throw new Error('usage: stores.ts latency REDIS_URL PG_URL OPS | serve KIND REDIS_URL PG_URL');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
