import { execFileSync } from 'node:child_process';
import path from 'node:path';
import express from 'express';
import { Pool } from 'pg';
import request from 'supertest';
import { CacheError, InvalidOptionError, PostgresStore, StoreTimeoutError, cacheResponse, canPrune, createCache, postgresCacheDdl } from '../../lib';
import { postgresStatements } from '../../lib/stores/postgres';
import { globToLike } from '../../lib/stores/sql-glob';
import { type PostgresServer, startPostgresServer, testPostgresTable, testPostgresUrl } from '../helpers/postgres-server';
import { freePort } from '../helpers/redis-server';
import { runStoreContract } from '../../lib/testing';
import { JEST, SQL_CAPABILITIES } from './contract-api';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (text: string): Buffer => Buffer.from(text);

const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

function sharedPool(): Pool {
  const pool = new Pool({ connectionString: testPostgresUrl(), max: 10 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

// Generous timeouts: the run's server is shared with other suites on two busy cores.
runStoreContract(JEST, 'PostgresStore (caller-owned pool)', async () => {
  const store = new PostgresStore({ pool: sharedPool(), table: testPostgresTable(), operationTimeoutMs: 5_000 });
  await store.ready();
  return store;
}, { capabilities: SQL_CAPABILITIES, timeoutMs: 20_000 });

runStoreContract(JEST, 'PostgresStore (from connectionString, schema created on first use)', async () => {
  return new PostgresStore({ connectionString: testPostgresUrl(), table: testPostgresTable(), operationTimeoutMs: 5_000 });
}, { capabilities: SQL_CAPABILITIES, timeoutMs: 20_000 });

describe('PostgresStore', () => {
  const stores: PostgresStore[] = [];
  const make = async (options: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {}): Promise<PostgresStore> => {
    const store = new PostgresStore({ pool: sharedPool(), table: testPostgresTable(), operationTimeoutMs: 5_000, pruneIntervalMs: 0, ...options });
    stores.push(store);
    await store.ready();
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  const sql = async (text: string, values?: unknown[]): Promise<Array<Record<string, unknown>>> => (await sharedPool().query(text, values)).rows;

  test('options: exactly one of pool or connectionString, a safe table name, and unknown names rejected with a suggestion', () => {
    expect(() => new PostgresStore({})).toThrow(InvalidOptionError);
    expect(() => new PostgresStore({ pool: sharedPool(), connectionString: testPostgresUrl() })).toThrow(/exactly one/);
    expect(() => new PostgresStore({ connectionString: 'mysql://x' })).toThrow(/connectionString/);
    expect(() => new PostgresStore({ pool: sharedPool(), table: 'cache; DROP TABLE x' })).toThrow(/table/);
    expect(() => new PostgresStore({ pool: sharedPool(), maxEntries: -1 })).toThrow(/maxEntries/);
    expect(() => new PostgresStore({ pool: sharedPool(), maxEntrie: 10 } as never)).toThrow(/did you mean 'maxEntries'/);
  });

  test('the schema: the documented columns, indexes on expiry and last access, and the DDL is exported', async () => {
    const store = await make();
    const columns = await sql(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [store.table]);
    expect(columns.map((c) => `${String(c.column_name)} ${String(c.data_type)}`)).toEqual([
      'cache_key text',
      'cache_value bytea',
      'created_at timestamp with time zone',
      'expires_at timestamp with time zone',
      'hit_count bigint',
      'last_accessed_at timestamp with time zone',
    ]);
    const indexes = (await sql(`SELECT indexdef FROM pg_indexes WHERE tablename = $1`, [store.table])).map((row) => String(row.indexdef));
    expect(indexes.some((def) => def.includes('(expires_at)'))).toBe(true);
    expect(indexes.some((def) => def.includes('(last_accessed_at)'))).toBe(true);
    expect(postgresCacheDdl('cache_embeddings')).toContain('CREATE TABLE IF NOT EXISTS cache_embeddings_tags');
    expect(canPrune(store)).toBe(true);
  });

  test('createTable: false uses a table created by a migration, and says so when it is missing', async () => {
    const table = testPostgresTable();
    const missing = new PostgresStore({ pool: sharedPool(), table, createTable: false, pruneIntervalMs: 0 });
    // ready() never rejects: it says false, and why.
    await expect(missing.ready()).resolves.toBe(false);
    expect(missing.lastConnectionError?.message).toMatch(/does not exist/);
    await sql(postgresCacheDdl(table));
    const store = new PostgresStore({ pool: sharedPool(), table, createTable: false, pruneIntervalMs: 0 });
    stores.push(store, missing);
    await store.set('k', bytes('v'), 60_000);
    expect((await store.get('k'))?.toString()).toBe('v');
  });

  test('reads never return an expired row, even one prune has not removed yet', async () => {
    const store = await make();
    await store.set('k', bytes('v'), 60_000);
    await sql(`UPDATE ${store.table} SET expires_at = now() - interval '1 second'`);
    expect(await store.get('k')).toBeUndefined();
    expect(await store.isStale('k')).toBe(true);
    expect((await sql(`SELECT count(*)::int AS n FROM ${store.table}`))[0]?.n).toBe(1);
    expect(await store.delete('k')).toBe(false); // an expired row is not counted as removed
  });

  test('a write is one upsert: one row per key, the value and expiry replaced, hit_count kept', async () => {
    const store = await make({ hitFlushIntervalMs: 60_000 });
    await store.set('k', bytes('one'), 1_000);
    await store.get('k');
    await store.flushHits();
    await store.set('k', bytes('two'), 600_000);
    const rows = await sql(`SELECT cache_value, hit_count, expires_at - created_at AS ttl FROM ${store.table}`);
    expect(rows).toHaveLength(1);
    expect(String(rows[0]?.cache_value)).toBe('two');
    expect(Number(rows[0]?.hit_count)).toBe(1);
    expect((rows[0]?.ttl as { minutes?: number }).minutes).toBe(10);
  });

  test('hits are counted in memory and written in one statement per interval, and by close()', async () => {
    const store = await make({ hitFlushIntervalMs: 60_000 });
    await store.set('hot', bytes('v'), 60_000);
    await store.set('cold', bytes('v'), 60_000);
    const [before] = await sql(`SELECT last_accessed_at FROM ${store.table} WHERE cache_key = 'hot'`);
    for (let i = 0; i < 5; i++) await store.get('hot');
    await store.get('missing');
    // Nothing written per hit.
    expect(Number((await sql(`SELECT hit_count FROM ${store.table} WHERE cache_key = 'hot'`))[0]?.hit_count)).toBe(0);
    await store.flushHits();
    const [hot] = await sql(`SELECT hit_count, last_accessed_at FROM ${store.table} WHERE cache_key = 'hot'`);
    expect(Number(hot?.hit_count)).toBe(5);
    expect((hot?.last_accessed_at as Date).getTime()).toBeGreaterThanOrEqual((before?.last_accessed_at as Date).getTime());
    expect(Number((await sql(`SELECT hit_count FROM ${store.table} WHERE cache_key = 'cold'`))[0]?.hit_count)).toBe(0);
    await store.get('hot');
    await store.close();
    expect(Number((await sql(`SELECT hit_count FROM ${store.table} WHERE cache_key = 'hot'`))[0]?.hit_count)).toBe(6);
  });

  test('the interval flush writes hits by itself', async () => {
    const store = await make({ hitFlushIntervalMs: 50 });
    await store.set('k', bytes('v'), 60_000);
    await store.get('k');
    await store.get('k');
    let count = 0;
    for (let i = 0; i < 100 && count < 2; i++) {
      await sleep(20);
      count = Number((await sql(`SELECT hit_count FROM ${store.table}`))[0]?.hit_count);
    }
    expect(count).toBe(2);
  });

  test('pattern deletes escape LIKE wildcards: llm:a_b never matches llm:aXb, 100% never matches 1000, \\ is literal', async () => {
    const store = await make();
    for (const key of ['llm:a_b', 'llm:aXb', 'rate:100%', 'rate:1000', 'path:a\\b', 'path:aXb', 'Character:1', 'character:1']) {
      await store.set(key, bytes(key), 60_000);
    }
    expect(await store.deletePattern('llm:a_b')).toBe(1);
    expect((await store.get('llm:aXb'))?.toString()).toBe('llm:aXb');
    expect(await store.deletePattern('rate:100%')).toBe(1);
    expect((await store.get('rate:1000'))?.toString()).toBe('rate:1000');
    expect(await store.deletePattern('path:a\\\\b')).toBe(1);
    expect((await store.get('path:aXb'))?.toString()).toBe('path:aXb');
    expect(await store.deletePattern('character:*')).toBe(1);
    expect((await store.get('Character:1'))?.toString()).toBe('Character:1');
 
    // The translated LIKE alone already selects exactly (the matcher only narrows classes).
    const statements = postgresStatements(store.table);
    const selected = async (glob: string): Promise<unknown[]> => (await sql(statements.patternPage, [globToLike(glob).like, '', 100])).map((row) => row.cache_key);
    await store.set('llm:a_b', bytes('again'), 60_000);
    expect(await selected('llm:a_b')).toEqual(['llm:a_b']);
    expect(await selected('rate:100%')).toEqual([]);
    for (const key of ['id:ab', 'id:ad']) await store.set(key, bytes(key), 60_000);
    expect(await store.deletePattern('id:a[bc]')).toBe(1);
    expect((await store.get('id:ad'))?.toString()).toBe('id:ad');
  });

  test('a prefix pattern is answered from an index, not a sequential scan (EXPLAIN)', async () => {
    const store = await make();
    await sql(
      `INSERT INTO ${store.table} (cache_key, cache_value, expires_at) SELECT 'k:' || g || ':' || md5(g::text), '\\x00', now() + interval '1 hour' FROM generate_series(1, 20000) g`,
    );
    await sql(`ANALYZE ${store.table}`);
    const statements = postgresStatements(store.table);
    const plan = (await sql(`EXPLAIN ${statements.patternPage}`, ['k:123%', '', 1000])).map((row) => String(row['QUERY PLAN'])).join('\n');
    expect(plan).toMatch(/Index (Only )?Scan/);
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toContain("'k:123'");
    expect(await store.deletePattern('k:123*')).toBe(111); // k:123, k:1230..1239, k:12300..12399
  });

  test('a tag delete reads the tag index, not the tables (EXPLAIN): its cost follows the tagged rows', async () => {
    const store = await make();
    await sql(`INSERT INTO ${store.table} (cache_key, cache_value, expires_at) SELECT 'k:' || g, '\\x00', now() + interval '1 hour' FROM generate_series(1, 20000) g`);
    await sql(`INSERT INTO ${store.table}_tags (tag, cache_key) SELECT 'tag:' || (g % 2000), 'k:' || g FROM generate_series(1, 20000) g`);
    await sql(`ANALYZE ${store.table}`);
    await sql(`ANALYZE ${store.table}_tags`);
    const plan = (await sql(`EXPLAIN ${postgresStatements(store.table).deleteTagged}`, [['tag:7'], 1000])).map((row) => String(row['QUERY PLAN'])).join('\n');
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toContain(`${store.table}_tags_pkey`);
    expect(await store.deleteTags(['tag:7'])).toBe(10);
  });

  test('two stores creating one schema at once take turns (no CREATE race)', async () => {
    const table = testPostgresTable();
    const racers = Array.from({ length: 4 }, () => new PostgresStore({ pool: sharedPool(), table, pruneIntervalMs: 0 }));
    stores.push(...racers);
    await expect(Promise.all(racers.map((store) => store.ready()))).resolves.toBeDefined();
  });

  test('prune removes expired rows in batches and resolves the count', async () => {
    const store = await make({ pruneBatchSize: 10 });
    for (let i = 0; i < 35; i++) await store.set(`old:${i}`, bytes('x'), 60_000, ['t']);
    for (let i = 0; i < 5; i++) await store.set(`live:${i}`, bytes('x'), 60_000);
    await sql(`UPDATE ${store.table} SET expires_at = now() - interval '1 minute' WHERE cache_key LIKE 'old:%'`);
    expect(await store.prune()).toBe(35);
    expect(Number((await sql(`SELECT count(*) AS n FROM ${store.table}`))[0]?.n)).toBe(5);
    // Their tag rows went with them.
    expect(Number((await sql(`SELECT count(*) AS n FROM ${store.table}_tags`))[0]?.n)).toBe(0);
    expect(await store.prune()).toBe(0);
  });

  test('the background prune runs every pruneIntervalMs by itself', async () => {
    const store = await make({ pruneIntervalMs: 50 });
    for (let i = 0; i < 5; i++) await store.set(`old:${i}`, bytes('x'), 60_000);
    await store.set('live', bytes('x'), 60_000);
    await sql(`UPDATE ${store.table} SET expires_at = now() - interval '1 minute' WHERE cache_key LIKE 'old:%'`);
    let rows = 6;
    for (let i = 0; i < 100 && rows > 1; i++) {
      await sleep(20);
      rows = Number((await sql(`SELECT count(*) AS n FROM ${store.table}`))[0]?.n);
    }
    expect(rows).toBe(1);
  });

  test('with maxEntries, prune removes the least recently accessed rows over the bound', async () => {
    const store = await make({ maxEntries: 4, pruneBatchSize: 3, hitFlushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      await store.set(`k:${i}`, bytes('x'), 60_000);
      await sql(`UPDATE ${store.table} SET last_accessed_at = now() - ($1 || ' minutes')::interval WHERE cache_key = $2`, [100 - i, `k:${i}`]);
    }
    // A recent hit on the oldest row keeps it (the hit is flushed before the eviction).
    await store.get('k:0');
    expect(await store.prune()).toBe(6);
    const left = (await sql(`SELECT cache_key FROM ${store.table} ORDER BY cache_key`)).map((row) => row.cache_key);
    expect(left).toEqual(['k:0', 'k:7', 'k:8', 'k:9']);
  });

  test("inspect() reports what seed 003's monitoring queries report (entries, valid, total and average hits, most-hit keys)", async () => {
    const store = await make({ hitFlushIntervalMs: 60_000 });
    for (let i = 0; i < 8; i++) await store.set(`emb:${i}`, bytes('v'.repeat(i + 1)), 60_000);
    for (let i = 0; i < 3; i++) await store.set(`gone:${i}`, bytes('v'), 60_000);
    await sql(`UPDATE ${store.table} SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE cache_key LIKE 'gone:%'`);
    for (let i = 0; i < 8; i++) for (let h = 0; h < i; h++) await store.get(`emb:${i}`);
    const inspection = await store.inspect({ top: 3 });
    // Seed 003, "Cache Hit Rate" and "Cache Size", run as written against the table.
    const [seed] = await sql(`
      SELECT COUNT(*) as total_entries, SUM(hit_count) as total_hits, AVG(hit_count) as avg_hits_per_entry,
        COUNT(*) FILTER (WHERE expires_at > NOW()) as valid_entries
      FROM ${store.table}`);
    expect(inspection.entries).toBe(Number(seed?.total_entries));
    expect(inspection.entries).toBe(11);
    expect(inspection.expired).toBe(Number(seed?.total_entries) - Number(seed?.valid_entries));
    expect(inspection.expired).toBe(3);
    expect(inspection.hits).toBe(Number(seed?.total_hits));
    expect(inspection.hits).toBe(28);
    expect(inspection.averageHits).toBeCloseTo(Number(seed?.avg_hits_per_entry), 6);
    expect(inspection.oldestAgeSeconds).toBeGreaterThanOrEqual(3_599);
    const [size] = await sql(`SELECT pg_total_relation_size($1) AS size`, [store.table]);
    expect(inspection.storageBytes).toBeGreaterThanOrEqual(Number(size?.size));
    expect(inspection.bytes).toBe(8 * 5 + 36 + 3 * 7);
    // Seed 003, "Cache Performance": the most frequently accessed entries.
    const seedTop = await sql(`SELECT cache_key, hit_count FROM ${store.table} ORDER BY hit_count DESC LIMIT 3`);
    expect(inspection.top.map((entry) => [entry.key, entry.hits])).toEqual(seedTop.map((row) => [row.cache_key, Number(row.hit_count)]));
    expect(inspection.top[0]).toMatchObject({ key: 'emb:7', hits: 7 });
    expect(inspection.top[0]?.lastAccessedAt).toBeInstanceOf(Date);
    // And prune() removes exactly the rows the seed's cleanup job would.
    expect(await store.prune()).toBe(3);
    expect((await store.inspect()).expired).toBe(0);
  });

  test('locks are shared by every process on the database, owned by their token, and expire by themselves', async () => {
    const table = testPostgresTable();
    const a = await make({ table });
    const b = new PostgresStore({ pool: sharedPool(), table, operationTimeoutMs: 5_000, pruneIntervalMs: 0 });
    stores.push(b);
    const token = await a.acquireLock('__lock__:k', 60_000);
    expect(token).toEqual(expect.any(String));
    expect(await b.acquireLock('__lock__:k', 60_000)).toBeUndefined();
    await b.releaseLock('__lock__:k', 'not-the-token');
    expect(await b.acquireLock('__lock__:k', 60_000)).toBeUndefined();
    await a.releaseLock('__lock__:k', token as string);
    const second = await b.acquireLock('__lock__:k', 50);
    expect(second).toEqual(expect.any(String));
    await sleep(150);
    expect(await a.acquireLock('__lock__:k', 60_000)).toEqual(expect.any(String));
    // The expired holder's late release does not free the new holder's lock.
    await b.releaseLock('__lock__:k', second as string);
    expect(await b.acquireLock('__lock__:k', 60_000)).toBeUndefined();
  });

  test('the origin limiter is one atomic statement shared across stores: spacing and a window count', async () => {
    const table = testPostgresTable();
    const a = await make({ table });
    const b = new PostgresStore({ pool: sharedPool(), table, operationTimeoutMs: 5_000, pruneIntervalMs: 0 });
    stores.push(b);
    const spaced = { minIntervalMs: 60_000, maxPerWindow: 0, windowMs: 0 };
    expect(await a.consumeRate('spaced', spaced)).toBe(0);
    const wait = await b.consumeRate('spaced', spaced);
    expect(wait).toBeGreaterThan(50_000);
    expect(wait).toBeLessThanOrEqual(60_000);
    const windowed = { minIntervalMs: 0, maxPerWindow: 5, windowMs: 60_000 };
    // 20 concurrent callers over two stores: exactly 5 are let through.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consumeRate('windowed', windowed)));
    expect(results.filter((r) => r === 0)).toHaveLength(5);
    expect(results.filter((r) => r > 0)).toHaveLength(15);
    const short = { minIntervalMs: 0, maxPerWindow: 1, windowMs: 100 };
    expect(await a.consumeRate('short', short)).toBe(0);
    expect(await b.consumeRate('short', short)).toBeGreaterThan(0);
    await sleep(200);
    expect(await b.consumeRate('short', short)).toBe(0);
  });

  test('a store and a cache share one fill across two stores on one table (the lock is seen by both)', async () => {
    const table = testPostgresTable();
    const first = createCache({ store: await make({ table }), lock: { ttlMs: 5_000, waitMs: 5_000, pollMs: 20 } });
    const second = createCache({
      store: new PostgresStore({ pool: sharedPool(), table, operationTimeoutMs: 5_000, pruneIntervalMs: 0 }),
      lock: { ttlMs: 5_000, waitMs: 5_000, pollMs: 20 },
    });
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await sleep(200);
      return 'filled';
    };
    const values = await Promise.all([first.wrap('shared', loader, { ttl: 60 }), second.wrap('shared', loader, { ttl: 60 })]);
    expect(values).toEqual(['filled', 'filled']);
    expect(calls).toBe(1);
    await second.close();
  });
});

describe('PostgresStore when its server goes away', () => {
  let server: PostgresServer;
  afterEach(async () => {
    await server?.stop();
  });

  const appOn = (cache: ReturnType<typeof createCache>): { app: express.Express; origin: () => number } => {
    let origin = 0;
    const app = express();
    app.get('/data', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
      origin++;
      res.json({ origin });
    });
    return { app, origin: () => origin };
  };

  const filled = async (cache: ReturnType<typeof createCache>): Promise<void> => {
    for (let i = 0; i < 100 && cache.stats().sets < 1; i++) await sleep(10);
  };

  test('stopped mid-test: requests are answered by the origin, with error events, and the cache comes back with the server', async () => {
    // A private server: this test stops it, which must not touch the run's shared one.
    server = await startPostgresServer();
    const store = new PostgresStore({ connectionString: server.url, operationTimeoutMs: 300, pruneIntervalMs: 0 });
    await store.ready();
    const cache = createCache({ store, breaker: { failureThreshold: 1_000, coolDownMs: 100 } });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    const { app, origin } = appOn(cache);
    expect((await request(app).get('/data')).headers['x-cache']).toBe('MISS');
    await filled(cache);
    expect((await request(app).get('/data')).headers['x-cache']).toBe('HIT');

    await server.stop();
    // Distinct keys: concurrent requests for one key would be coalesced into one origin call.
    const during = await Promise.all(Array.from({ length: 5 }, (_, i) => request(app).get(`/data?i=${i}`)));
    expect(during.map((res) => res.status)).toEqual([200, 200, 200, 200, 200]);
    expect(during.every((res) => res.headers['x-cache'] === 'MISS')).toBe(true);
    expect(origin()).toBe(6);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(errors.every((error) => error instanceof CacheError)).toBe(true);

    server = await startPostgresServer({ port: server.port });
    let header: string | undefined;
    for (let i = 0; i < 100 && header !== 'HIT'; i++) {
      header = (await request(app).get('/data')).headers['x-cache'];
      await sleep(20);
    }
    expect(header).toBe('HIT');
    await cache.close();
  });

  test('frozen (SIGSTOP): each request becomes an origin answer once operationTimeoutMs elapses, with a timeout error event', async () => {
    server = await startPostgresServer();
    const store = new PostgresStore({ connectionString: server.url, operationTimeoutMs: 300, pruneIntervalMs: 0 });
    await store.ready();
    const cache = createCache({ store, breaker: { failureThreshold: 1_000, coolDownMs: 100 } });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    const { app, origin } = appOn(cache);
    expect((await request(app).get('/data')).headers['x-cache']).toBe('MISS');
    await filled(cache);
    expect((await request(app).get('/data')).headers['x-cache']).toBe('HIT');

    server.freeze();
    const during = await Promise.all(Array.from({ length: 3 }, (_, i) => request(app).get(`/data?i=${i}`)));
    expect(during.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(origin()).toBe(4);
    const timeouts = errors.filter((error) => error instanceof StoreTimeoutError);
    expect(timeouts.length).toBeGreaterThanOrEqual(3);
    expect((timeouts[0] as StoreTimeoutError).timeoutMs).toBe(300);
    server.thaw();
    await cache.close();
  });
});

describe('PostgresStore.ready() on a server that is not there', () => {
  test('resolves false with lastConnectionError (the driver\'s code), never rejects, and true once it answers', async () => {
    const port = await freePort();
    const down = new PostgresStore({ connectionString: `postgres://cache@127.0.0.1:${port}/cache`, pruneIntervalMs: 0, operationTimeoutMs: 500 });
    try {
      await expect(down.ready(2_000)).resolves.toBe(false);
      const error = down.lastConnectionError;
      expect(error).toBeInstanceOf(CacheError);
      expect(JSON.stringify({ message: error?.message, cause: String((error?.cause as Error | undefined)?.message ?? error?.cause) })).toMatch(/ECONNREFUSED|connect/);
    } finally {
      await down.close();
    }
    expect(await down.ready()).toBe(false); // closed: still no rejection
    const up = new PostgresStore({ pool: sharedPool(), table: testPostgresTable(), pruneIntervalMs: 0 });
    expect(await up.ready()).toBe(true);
    expect(up.lastConnectionError).toBeUndefined();
    await up.close();
  });
});

describe('optional peers', () => {
  test('the package root loads without any optional peer, and each feature throws MissingPeerError naming the package to install', () => {
    const root = path.resolve(__dirname, '../..');
    // A child process in which both packages cannot be resolved, as on a machine without them.
    const script = `
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (['pg', 'better-sqlite3', 'ioredis', 'prom-client'].includes(request)) throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const lib = require('./lib');
      const out = {};
      const typed = (err) => err instanceof lib.MissingPeerError && err.code === 'ERR_CACHE_MISSING_PEER' ? err.packageName + ': ' + err.message : 'untyped: ' + err.message;
      try { new lib.PostgresStore({ connectionString: 'postgres://127.0.0.1:1/x' }); } catch (err) { out.pg = typed(err); }
      try { new lib.RedisStore({ url: 'redis://127.0.0.1:1' }); } catch (err) { out.ioredis = typed(err); }
      try { require('./lib/metrics/prometheus').prometheusMetrics({ cache: lib.createCache() }); } catch (err) { out.prom = typed(err); }
      try { new lib.SqliteStore({ path: ':memory:' }); } catch (err) { out.sqlite = err.message; }
      out.memory = typeof new lib.MemoryStore().get;
      console.log(JSON.stringify(out));`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
    const result = JSON.parse(output.trim().split('\n').pop() as string) as Record<string, string>;
    expect(result.pg).toMatch(/^pg: PostgresStore needs the "pg" package: run `npm install pg`/);
    expect(result.ioredis).toMatch(/^ioredis: RedisStore needs the "ioredis" package: run `npm install ioredis`/);
    expect(result.prom).toMatch(/^prom-client: express-cache-kit\/prometheus needs the "prom-client" package: run `npm install prom-client`/);
    expect(result.sqlite).toMatch(/needs the "better-sqlite3" package/);
    expect(result.memory).toBe('function');
  });
});
