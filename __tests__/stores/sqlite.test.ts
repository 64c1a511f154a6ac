import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InvalidOptionError, SqliteStore, canPrune, createCache, sqliteCacheDdl } from '../../lib';
import { sqliteStatements } from '../../lib/stores/sqlite';
import { runStoreContract } from '../../lib/testing';
import { JEST, SQL_CAPABILITIES } from './contract-api';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (text: string): Buffer => Buffer.from(text);

const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-sqlite-'));
let files = 0;
const freshPath = (): string => path.join(dir, `nested/dir/${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStoreContract(JEST, 'SqliteStore (file)', async () => new SqliteStore({ path: freshPath(), pruneIntervalMs: 0 }), { capabilities: SQL_CAPABILITIES });
runStoreContract(JEST, 'SqliteStore (:memory:)', async () => new SqliteStore({ path: ':memory:', pruneIntervalMs: 0 }), { capabilities: SQL_CAPABILITIES });

describe('SqliteStore', () => {
  const open: Array<SqliteStore | Database.Database> = [];
  const make = (options: ConstructorParameters<typeof SqliteStore>[0] = {}): SqliteStore => {
    const store = new SqliteStore({ path: freshPath(), pruneIntervalMs: 0, ...options });
    open.push(store);
    return store;
  };
  /** A second connection on the store's file, as another process would have. */
  const peek = (store: SqliteStore): Database.Database => {
    const db = new Database(store.path);
    open.push(db);
    return db;
  };
  afterEach(async () => {
    for (const item of open.splice(0)) {
      if (item instanceof SqliteStore) await item.close();
      else item.close();
    }
  });

  test('options: unknown names are rejected with a suggestion; bad values name the option', () => {
    expect(() => new SqliteStore({ paths: 'x.db' } as never)).toThrow(/did you mean 'path'/);
    expect(() => new SqliteStore({ path: '' })).toThrow(InvalidOptionError);
    expect(() => new SqliteStore({ path: ':memory:', table: '1bad' })).toThrow(/table/);
    expect(() => new SqliteStore({ path: ':memory:', pruneIntervalMs: -5 })).toThrow(/pruneIntervalMs/);
  });

  test('creates missing directories, uses WAL mode, and has the documented columns', () => {
    const store = make();
    const db = peek(store);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const columns = (db.prepare(`PRAGMA table_info(${store.table})`).all() as Array<{ name: string }>).map((c) => c.name);
    expect(columns).toEqual(['cache_key', 'cache_value', 'created_at', 'expires_at', 'hit_count', 'last_accessed_at']);
    const indexes = (db.prepare(`PRAGMA index_list(${store.table})`).all() as Array<{ name: string }>).map((i) => i.name);
    expect(indexes).toEqual(expect.arrayContaining([`${store.table}_expires_at_idx`, `${store.table}_last_accessed_at_idx`]));
    expect(sqliteCacheDdl('x')).toContain('CREATE TABLE IF NOT EXISTS x_tags');
    expect(canPrune(store)).toBe(true);
  });

  test('survives a restart: a new store on the same file reads what the old one wrote, tags included', async () => {
    const file = freshPath();
    const first = new SqliteStore({ path: file, pruneIntervalMs: 0 });
    await first.set('vendor:abc', bytes('operational'), 60_000, ['vendors']);
    await first.close();
    const second = make({ path: file });
    expect((await second.get('vendor:abc'))?.toString()).toBe('operational');
    expect(await second.deleteTags(['vendors'])).toBe(1);
  });

  test('isStale: true when absent or past its TTL, false while live', async () => {
    const store = make();
    expect(await store.isStale('vendor:abc')).toBe(true);
    await store.set('vendor:abc', bytes('v'), 60_000);
    await store.set('vendor:old', bytes('v'), 30);
    expect(await store.isStale('vendor:abc')).toBe(false);
    await sleep(80);
    expect(await store.isStale('vendor:old')).toBe(true);
    expect(await store.get('vendor:old')).toBeUndefined();
  });

  test('pattern deletes are exact: LIKE wildcards escaped, case-sensitive although SQLite LIKE is not', async () => {
    const store = make();
    for (const key of ['llm:a_b', 'llm:aXb', 'rate:100%', 'rate:1000', 'Character:1', 'character:1', 'glob:[x]', 'glob:x']) {
      await store.set(key, bytes(key), 60_000);
    }
    expect(await store.deletePattern('llm:a_b')).toBe(1);
    expect((await store.get('llm:aXb'))?.toString()).toBe('llm:aXb');
    expect(await store.deletePattern('rate:100%')).toBe(1);
    expect((await store.get('rate:1000'))?.toString()).toBe('rate:1000');
    expect(await store.deletePattern('character:*')).toBe(1);
    expect((await store.get('Character:1'))?.toString()).toBe('Character:1');
    expect(await store.deletePattern('glob:\\[x]')).toBe(1);
    expect((await store.get('glob:x'))?.toString()).toBe('glob:x');
 
    // Past the literal prefix, only the exact matcher tells case and classes apart.
    for (const key of ['user:1:profile', 'user:1:Profile', 'id:ab', 'id:ad']) await store.set(key, bytes(key), 60_000);
    expect(await store.deletePattern('user:*:Profile')).toBe(1);
    expect((await store.get('user:1:profile'))?.toString()).toBe('user:1:profile');
    expect(await store.deletePattern('id:a[bc]')).toBe(1);
    expect((await store.get('id:ad'))?.toString()).toBe('id:ad');
  });

  test('a prefix pattern is answered from the primary key index (EXPLAIN QUERY PLAN)', () => {
    const store = make();
    const db = peek(store);
    const plan = (
      db.prepare(`EXPLAIN QUERY PLAN ${sqliteStatements(store.table).patternPage}`).all(
        'k:123*',
        'k:123%',
        '',
        1000,
      ) as Array<{ detail: string }>
    )
      .map((row) => row.detail)
      .join('\n');
    expect(plan).toMatch(/USING (COVERING )?INDEX sqlite_autoindex/);
    expect(plan).toMatch(/cache_key>\? AND cache_key<\?/);
  });

  test('hits are counted in memory and flushed in one transaction, and by close()', async () => {
    const file = freshPath();
    const store = new SqliteStore({ path: file, pruneIntervalMs: 0, hitFlushIntervalMs: 60_000 });
    await store.set('hot', bytes('v'), 60_000);
    for (let i = 0; i < 4; i++) await store.get('hot');
    const db = peek({ path: file } as SqliteStore);
    const hits = (): number => Number((db.prepare(`SELECT hit_count FROM cache_entries WHERE cache_key = 'hot'`).get() as { hit_count: number }).hit_count);
    expect(hits()).toBe(0);
    await store.flushHits();
    expect(hits()).toBe(4);
    await store.get('hot');
    await store.close();
    expect(hits()).toBe(5);
  });

  test("prune: expired rows in batches (seed 002's clear_stale count), then the LRU bound", async () => {
    const store = make({ pruneBatchSize: 7, maxEntries: 3 });
    for (let i = 0; i < 50; i++) await store.set(`stale:${i}`, bytes('x'), 20, ['t']);
    for (let i = 0; i < 6; i++) await store.set(`live:${i}`, bytes('x'), 60_000);
    await sleep(60);
    const db = peek(store);
    // live:0 is the most recently used, live:1..5 in order of use.
    for (let i = 0; i < 6; i++) db.prepare(`UPDATE ${store.table} SET last_accessed_at = ? WHERE cache_key = ?`).run(1_000 + i, `live:${i}`);
    db.prepare(`UPDATE ${store.table} SET last_accessed_at = ? WHERE cache_key = 'live:0'`).run(Date.now());
    expect(await store.prune()).toBe(50 + 3);
    const left = (db.prepare(`SELECT cache_key FROM ${store.table} ORDER BY cache_key`).all() as Array<{ cache_key: string }>).map((r) => r.cache_key);
    expect(left).toEqual(['live:0', 'live:4', 'live:5']);
    expect(Number((db.prepare(`SELECT count(*) AS n FROM ${store.table}_tags`).get() as { n: number }).n)).toBe(0);
  });

  test('the background prune runs every pruneIntervalMs by itself', async () => {
    const store = make({ pruneIntervalMs: 50 });
    for (let i = 0; i < 5; i++) await store.set(`old:${i}`, bytes('x'), 10);
    await store.set('live', bytes('x'), 60_000);
    const db = peek(store);
    const count = (): number => Number((db.prepare(`SELECT count(*) AS n FROM ${store.table}`).get() as { n: number }).n);
    for (let i = 0; i < 100 && count() > 1; i++) await sleep(20);
    expect(count()).toBe(1);
  });

  test("inspect: seed 002's stats (total, stale, oldest age) and seed 003's numbers (entries, hits, most-hit)", async () => {
    const store = make({ hitFlushIntervalMs: 60_000 });
    for (let i = 0; i < 6; i++) await store.set(`k:${i}`, bytes('vv'), 60_000);
    await store.set('old', bytes('v'), 20);
    await sleep(60);
    for (let i = 0; i < 6; i++) for (let h = 0; h < i; h++) await store.get(`k:${i}`);
    const db = peek(store);
    db.prepare(`UPDATE ${store.table} SET created_at = ? WHERE cache_key = 'old'`).run(Date.now() - 3_600_000);
    const inspection = await store.inspect({ top: 2 });
    const seed = db
      .prepare(`SELECT COUNT(*) AS total, SUM(hit_count) AS hits, AVG(hit_count) AS avg, SUM(expires_at <= ?) AS stale FROM ${store.table}`)
      .get(Date.now()) as { total: number; hits: number; avg: number; stale: number };
    expect(inspection).toMatchObject({ entries: seed.total, expired: seed.stale, hits: seed.hits });
    expect(inspection).toMatchObject({ entries: 7, expired: 1, hits: 15 });
    expect(inspection.averageHits).toBeCloseTo(seed.avg, 6);
    expect(inspection.oldestAgeSeconds).toBeGreaterThanOrEqual(3_599);
    expect(inspection.bytes).toBe(6 * (3 + 2) + 3 + 1);
    expect(inspection.storageBytes).toBeGreaterThan(0);
    expect(inspection.top.map((entry) => [entry.key, entry.hits])).toEqual([
      ['k:5', 5],
      ['k:4', 4],
    ]);
    expect(await store.prune()).toBe(1);
    expect((await store.inspect()).expired).toBe(0);
  });

  test('locks and the limiter hold across two stores on one file (two connections, as two processes)', async () => {
    const file = freshPath();
    const a = make({ path: file });
    const b = make({ path: file });
    const token = await a.acquireLock('__lock__:k', 60_000);
    expect(token).toEqual(expect.any(String));
    expect(await b.acquireLock('__lock__:k', 60_000)).toBeUndefined();
    await b.releaseLock('__lock__:k', 'someone-else');
    expect(await b.acquireLock('__lock__:k', 60_000)).toBeUndefined();
    await a.releaseLock('__lock__:k', token as string);
    expect(await b.acquireLock('__lock__:k', 30)).toEqual(expect.any(String));
    await sleep(80);
    expect(await a.acquireLock('__lock__:k', 60_000)).toEqual(expect.any(String));

    const windowed = { minIntervalMs: 0, maxPerWindow: 3, windowMs: 60_000 };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).consumeRate('spotify', windowed)));
    expect(results.filter((r) => r === 0)).toHaveLength(3);
    const spaced = { minIntervalMs: 60_000, maxPerWindow: 0, windowMs: 0 };
    expect(await a.consumeRate('spaced', spaced)).toBe(0);
    expect(await b.consumeRate('spaced', spaced)).toBeGreaterThan(50_000);
  });

  test('stale-if-error persists: a new store instance on the file answers from the old entry when the loader throws', async () => {
    const file = freshPath();
    const before = createCache({ store: new SqliteStore({ path: file, pruneIntervalMs: 0 }) });
    expect(await before.wrap('status', async () => 'from origin', { ttl: 0.05, staleIfError: 60 })).toBe('from origin');
    await before.close();
    await sleep(100);

    // "After a restart": a new store and cache on the same file, the origin down.
    const after = createCache({ store: make({ path: file }) });
    const stale: string[] = [];
    after.on('stale', ({ reason }) => stale.push(reason));
    const failing = async (): Promise<string> => {
      throw new Error('origin down');
    };
    expect(await after.wrap('status', failing, { ttl: 0.05, staleIfError: 60 })).toBe('from origin');
    expect(stale).toEqual(['error']);
    // Without staleIfError the error reaches the caller: the old entry is past its TTL.
    await expect(after.wrap('status', failing, { ttl: 0.05 })).rejects.toThrow('origin down');
  });

  test('stale-if-error across a real process restart: another process filled the file and exited', async () => {
    const file = freshPath();
    const root = path.resolve(__dirname, '../..');
    const script = `
      const { SqliteStore, createCache } = require('./lib');
      (async () => {
        const cache = createCache({ store: new SqliteStore({ path: ${JSON.stringify(file)} }) });
        await cache.wrap('spotify:top', async () => ({ tracks: ['a', 'b'] }), { ttl: 0.05, staleIfError: 60 });
        await cache.close();
      })().catch((err) => { console.error(err); process.exit(1); });`;
    execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, stdio: 'pipe' });
    await sleep(100);
    const cache = createCache({ store: make({ path: file }) });
    const value = await cache.wrap('spotify:top', async () => Promise.reject(new Error('spotify down')), { ttl: 0.05, staleIfError: 60 });
    expect(value).toEqual({ tracks: ['a', 'b'] });
  });

  test('stale-if-error stops at its window', async () => {
    const file = freshPath();
    const before = createCache({ store: new SqliteStore({ path: file, pruneIntervalMs: 0 }) });
    await before.wrap('status', async () => 'old', { ttl: 0.05, staleIfError: 0.1 });
    await before.close();
    await sleep(250);
    const after = createCache({ store: make({ path: file }) });
    await expect(after.wrap('status', async () => Promise.reject(new Error('origin down')), { ttl: 0.05, staleIfError: 0.1 })).rejects.toThrow('origin down');
  });
});
