import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { CacheError, StoreClosedError, StoreError, StoreTimeoutError } from '../errors';
import { LocalLocks, LocalRateLimiter } from './local-coordination';
import { globToLike } from './sql-glob';
import { type ResolvedSqliteStoreOptions, type SqliteStoreOptions, resolveSqliteStoreOptions } from './sqlite-options';
import type { InspectedEntry, RateLimits, Store, StoreInspection } from './store';

/**
 * The schema of one SQLite cache table and its companions, for migrations (what the store runs
 * when `createTable` is on). Times are epoch milliseconds (SQLite has no timestamp type).
 *
 * @example
 * ```ts
 * db.exec(sqliteCacheDdl('cache_entries'));
 * ```
 */
export function sqliteCacheDdl(table = 'cache_entries'): string {
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  cache_key TEXT PRIMARY KEY,
  cache_value BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  hit_count INTEGER NOT NULL DEFAULT 0,
  last_accessed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ${table}_expires_at_idx ON ${table} (expires_at);
CREATE INDEX IF NOT EXISTS ${table}_last_accessed_at_idx ON ${table} (last_accessed_at);
CREATE TABLE IF NOT EXISTS ${table}_tags (
  tag TEXT NOT NULL,
  cache_key TEXT NOT NULL REFERENCES ${table} (cache_key) ON DELETE CASCADE,
  PRIMARY KEY (tag, cache_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${table}_tags_cache_key_idx ON ${table}_tags (cache_key);
CREATE TABLE IF NOT EXISTS ${table}_locks (lock_key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${table}_rates (
  rate_key TEXT PRIMARY KEY,
  last_ms INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  window_count INTEGER NOT NULL
) WITHOUT ROWID;`;
}

/** GLOB has no escape character: each special is written as a one-character class. */
function globLiteral(text: string): string {
  return text.replace(/[*?[]/g, '[$&]');
}

/**
 * The statements of a store on `table`. Exported for tests (the query plan of the pattern scan)
 * and for reading: every statement the store runs is here.
 * @internal
 */
export function sqliteStatements(t: string) {
  return {
    get: `SELECT cache_value FROM ${t} WHERE cache_key = ? AND expires_at > ?`,
    upsert: `
INSERT INTO ${t} (cache_key, cache_value, created_at, expires_at, hit_count, last_accessed_at) VALUES (?, ?, ?, ?, 0, ?)
ON CONFLICT (cache_key) DO UPDATE SET cache_value = excluded.cache_value, created_at = excluded.created_at,
  expires_at = excluded.expires_at, last_accessed_at = excluded.last_accessed_at`,
    dropTags: `DELETE FROM ${t}_tags WHERE cache_key = ? AND tag NOT IN (SELECT value FROM json_each(?))`,
    addTag: `INSERT OR IGNORE INTO ${t}_tags (tag, cache_key) VALUES (?, ?)`,
    delete: `DELETE FROM ${t} WHERE cache_key = ? RETURNING expires_at`,
    // GLOB on the literal prefix is what lets SQLite answer from the primary key index (LIKE is
    // case-insensitive by default, so it cannot); the exact match is done in JS.
    patternPage: `SELECT cache_key FROM ${t} WHERE cache_key GLOB ? AND cache_key LIKE ? ESCAPE '\\' AND cache_key > ? ORDER BY cache_key LIMIT ?`,
    tagPage: `SELECT DISTINCT tag FROM ${t}_tags WHERE tag GLOB ? AND tag LIKE ? ESCAPE '\\' AND tag > ? ORDER BY tag LIMIT ?`,
    tagged: `SELECT DISTINCT cache_key FROM ${t}_tags WHERE tag IN (SELECT value FROM json_each(?)) LIMIT ?`,
    clear: `DELETE FROM ${t}`,
    isLive: `SELECT 1 FROM ${t} WHERE cache_key = ? AND expires_at > ?`,
    flushHit: `UPDATE ${t} SET hit_count = hit_count + ?, last_accessed_at = max(last_accessed_at, ?) WHERE cache_key = ?`,
    pruneExpired: `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expires_at <= ? LIMIT ?)`,
    pruneLocks: `DELETE FROM ${t}_locks WHERE expires_at <= ?`,
    count: `SELECT count(*) AS n FROM ${t}`,
    pruneLeastRecent: `DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} ORDER BY last_accessed_at, cache_key LIMIT ?)`,
    inspect: `
SELECT count(*) AS entries, coalesce(sum(expires_at <= ?), 0) AS expired,
  coalesce(sum(length(CAST(cache_key AS BLOB)) + length(cache_value)), 0) AS bytes,
  coalesce(sum(hit_count), 0) AS hits, min(created_at) AS oldest
FROM ${t}`,
    top: `SELECT cache_key, hit_count, created_at, expires_at, last_accessed_at FROM ${t} ORDER BY hit_count DESC, cache_key LIMIT ?`,
    acquireLock: `
INSERT INTO ${t}_locks (lock_key, token, expires_at) VALUES (?, ?, ?)
ON CONFLICT (lock_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at WHERE ${t}_locks.expires_at <= ?
RETURNING token`,
    releaseLock: `DELETE FROM ${t}_locks WHERE lock_key = ? AND token = ?`,
    readRate: `SELECT last_ms, window_start_ms, window_count FROM ${t}_rates WHERE rate_key = ?`,
    writeRate: `INSERT OR REPLACE INTO ${t}_rates (rate_key, last_ms, window_start_ms, window_count) VALUES (?, ?, ?, ?)`,
  };
}

type Db = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;
type Row = Record<string, unknown>;
type StatementName = keyof ReturnType<typeof sqliteStatements>;

function loadSqlite(): new (file: string, options?: BetterSqlite3.Options) => Db {
  try {
    // Loaded lazily so `better-sqlite3` stays an optional peer for users of the other stores.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('better-sqlite3') as new (file: string, options?: BetterSqlite3.Options) => Db;
  } catch (err) {
    throw new CacheError('ERR_CACHE_UNSUPPORTED', 'SqliteStore needs the "better-sqlite3" package (version 12 on Node 20): run `npm install better-sqlite3@12`', {
      cause: err,
    });
  }
}

/** SQLITE_FULL: the file cannot grow. Entry writes are skipped on it, like on a locked file. */
class StoreFullError extends StoreError {}

/** What to do about a file that cannot be opened. */
function openHint(err: unknown): string {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return 'it is not a SQLite database: move it away (the cache recreates it) or set `path` elsewhere';
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
    return 'this process cannot create or write it: fix the permissions of the file and its directory, or set `path` to a writable place';
  }
  return 'check the path, its permissions and free space';
}

/** The inode of `file`, or undefined when it does not exist. */
function fileInode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

const PAGE = 1_000;
const MAX_PENDING_HIT_KEYS = 100_000;

/**
 * A store in a SQLite file through `better-sqlite3` (an offline cache that survives restarts):
 * the same columns as {@link PostgresStore} (times in epoch ms), WAL mode, and it survives a
 * process restart, which makes it the persistent fallback of a Redis or PostgreSQL primary.
 *
 * - Reads never return an expired row; writes are one transaction (entry and tag rows).
 * - Hits are counted in memory and written in one transaction every `hitFlushIntervalMs`.
 * - Several processes may share one file. better-sqlite3 is synchronous, so SQLite's busy
 *   timeout would stop the whole event loop while another process holds the write lock: the
 *   connection has none. A read never waits (WAL: readers do not wait for a writer). A write
 *   that finds the file locked is skipped (`skippedWrites` counts them; the entry is simply not
 *   cached this time); the fill lock and the limiter, which sit on a request's path, are
 *   stood in for by in-process ones at once (coalescing and limiting within this process still
 *   hold, and nothing counts as a store failure); a write that must happen (delete, clear, lock
 *   release) tries again on a timer, never blocking, until `operationTimeoutMs` has passed,
 *   then fails with a `StoreTimeoutError`. Locks and the origin limiter are rows updated in one
 *   `BEGIN IMMEDIATE` transaction each, so they hold across those processes.
 * - The file never keeps the app from starting: a garbage file or a path this process cannot
 *   write makes the store unavailable (operations fail with a `StoreError` naming the path and
 *   what to do, `ready()` resolves false, `lastOpenError` says why). A file deleted or replaced
 *   while open is noticed within `hitFlushIntervalMs`, reported once and opened again. A full
 *   disk skips entry writes (`skippedWrites`) and keeps reads.
 * - `isStale(key)` says whether a key needs a refresh.
 *
 * Operations are synchronous underneath (better-sqlite3), typically a few microseconds for a
 * lookup; the methods return promises to fit the {@link Store} contract.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: 'cache/offline.db', maxEntries: 50_000 });
 * const cache = createCache({ store, defaultTtl: 1800 });
 * ```
 */
export class SqliteStore implements Store {
  readonly name = 'sqlite';
  /** The database file (or `':memory:'`). */
  readonly path: string;
  /** The entry table. */
  readonly table: string;
  private readonly options: ResolvedSqliteStoreOptions;
  private db: Db | undefined;
  private statements = {} as Record<StatementName, Statement>;
  // Why the file cannot be used (garbage, a directory it may not write): every operation fails
  // with it, a miss, until `ready()` manages to open the file.
  private unavailable: StoreError | undefined;
  // Reported by the next operation, once: the file was deleted or replaced and opened again.
  private reopened: StoreError | undefined;
  private inode: number | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private hits = new Map<string, { count: number; lastAt: number }>();
  private closed = false;
  /** Entry writes skipped because another connection held the file's write lock. */
  skippedWrites = 0;
  // Stand-ins while another process holds the file's write lock (see acquireLock, consumeRate).
  private readonly localLocks = new LocalLocks();
  private readonly localTokens = new Set<string>();
  private readonly localRates = new LocalRateLimiter();

  constructor(options: SqliteStoreOptions = {}) {
    this.options = resolveSqliteStoreOptions(options);
    this.path = this.options.path;
    this.table = this.options.table;
    this.open();
    this.timers.push(
      setInterval(() => {
        this.checkFile();
        void this.flushHits().catch(() => undefined);
      }, this.options.hitFlushIntervalMs).unref(),
    );
    if (this.options.pruneIntervalMs > 0) {
      this.timers.push(setInterval(() => void this.prune().catch(() => undefined), this.options.pruneIntervalMs).unref());
    }
  }

  /**
   * Opens the file (creating it and its directory when missing). A file that is not a database,
   * or a directory this process may not write, does not throw: a cache must not keep the app
   * from starting. The store is then unavailable (every operation fails with a `StoreError`
   * naming the path and what to do, `ready()` resolves false) and requests go to the origin.
   */
  private open(): boolean {
    const Database = loadSqlite();
    let db: Db | undefined;
    try {
      if (this.path !== ':memory:') mkdirSync(path.dirname(path.resolve(this.path)), { recursive: true });
      // No busy timeout: better-sqlite3 would wait for a lock synchronously, stalling every request.
      db = new Database(this.path, { timeout: 0 });
      // WAL: readers never wait for the writer, and a crash mid-write leaves the file consistent.
      db.pragma('journal_mode = WAL');
      // NORMAL is durable against process crashes in WAL mode; only an OS crash may lose the last
      // commits, which a cache can afford.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      if (this.options.createTable) db.exec(sqliteCacheDdl(this.table));
      const opened = db;
      this.statements = Object.fromEntries(Object.entries(sqliteStatements(this.table)).map(([name, sql]) => [name, opened.prepare(sql)])) as Record<StatementName, Statement>;
    } catch (err) {
      try {
        db?.close();
      } catch {
        // Nothing to release beyond what failed to open.
      }
      this.db = undefined;
      this.unavailable = new StoreError('open', `SqliteStore cannot use ${this.path}: ${(err as Error).message}; ${openHint(err)}`, { cause: err });
      return false;
    }
    this.db = db;
    this.unavailable = undefined;
    this.inode = this.path === ':memory:' ? undefined : fileInode(this.path);
    return true;
  }

  /**
   * Notices a database file deleted or replaced under the open connection (which would go on
   * writing to an unlinked inode nobody can read), and opens the path again.
   */
  private checkFile(): void {
    if (this.closed || this.db === undefined || this.inode === undefined) return;
    if (fileInode(this.path) === this.inode) return;
    try {
      this.db.close();
    } catch {
      // The old connection is abandoned either way.
    }
    this.db = undefined;
    this.hits.clear();
    if (this.open()) {
      this.reopened = new StoreError('open', `SqliteStore: ${this.path} was deleted or replaced while open; opened it again (the entries it held are gone)`);
    }
  }

  private stmt(name: StatementName): Statement {
    return this.statements[name];
  }

  /** Runs `work` on the open database, turning SQLite errors into store errors. */
  private run<T>(operation: string, work: () => T): T {
    if (this.closed) throw new StoreClosedError('SqliteStore');
    if (this.unavailable !== undefined) throw this.unavailable;
    if (this.reopened !== undefined) {
      const reported = this.reopened;
      this.reopened = undefined;
      throw reported;
    }
    try {
      return work();
    } catch (err) {
      if (err instanceof CacheError) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreTimeoutError(operation, this.options.operationTimeoutMs);
      if (code === 'SQLITE_FULL') throw new StoreFullError(operation, `sqlite ${operation} failed: the disk (or max_page_count) is full; entries already stored are still read`, { cause: err });
      const message = err instanceof Error ? err.message : String(err);
      throw new StoreError(operation, `sqlite ${operation} failed: ${message}`, { cause: err });
    }
  }

  /** A write transaction that takes the file's write lock up front (no upgrade deadlock). */
  private write<T>(operation: string, work: () => T): T {
    return this.run(operation, () => (this.db as Db).transaction(work).immediate());
  }

  /**
   * A write that must happen: while another connection holds the write lock it is tried again
   * on a timer (the event loop keeps running), until `operationTimeoutMs` has passed.
   */
  private async writeSoon<T>(operation: string, work: () => T): Promise<T> {
    const deadline = Date.now() + this.options.operationTimeoutMs;
    for (let waitMs = 1; ; waitMs = Math.min(waitMs * 2, 25)) {
      try {
        return this.write(operation, work);
      } catch (err) {
        if (!(err instanceof StoreTimeoutError) || Date.now() + waitMs > deadline) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  /**
   * Resolves `true` when the file is open and usable, `false` when it is not (a garbage file, a
   * directory it may not write: see `lastOpenError`), after trying to open it once more. Never
   * rejects.
   *
   * @example
   * ```ts
   * if (!(await store.ready())) console.warn('SQLite cache unavailable, serving from the origin:', store.lastOpenError?.message);
   * ```
   */
  async ready(): Promise<boolean> {
    if (this.closed) return false;
    if (this.unavailable !== undefined) this.open();
    return this.unavailable === undefined;
  }

  /** Why the file could not be opened (a `StoreError` naming the path and what to do), while it cannot. */
  get lastOpenError(): StoreError | undefined {
    return this.unavailable;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const now = Date.now();
    const row = this.run('get', () => this.stmt('get').get(key, now) as Row | undefined);
    if (row === undefined) return undefined;
    const pending = this.hits.get(key);
    if (pending) {
      pending.count++;
      pending.lastAt = now;
    } else {
      this.hits.set(key, { count: 1, lastAt: now });
    }
    return row.cache_value as Buffer;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    const now = Date.now();
    const unique = [...new Set(tags ?? [])];
    try {
      this.write('set', () => {
        this.stmt('upsert').run(key, value, now, now + Math.max(1, Math.ceil(ttlMs)), now);
        this.stmt('dropTags').run(key, JSON.stringify(unique));
        for (const tag of unique) this.stmt('addTag').run(tag, key);
      });
    } catch (err) {
      // Another process holds the write lock: this answer is not cached this time. Not a store
      // failure (the file is healthy and reads keep hitting), so nothing counts toward a breaker.
      // A full disk stops writes, not reads: skipping them keeps the breaker from shutting reads off.
      if (!(err instanceof StoreTimeoutError) && !(err instanceof StoreFullError)) throw err;
      this.skippedWrites++;
    }
  }

  async delete(key: string): Promise<boolean> {
    const now = Date.now();
    const row = await this.writeSoon('delete', () => this.stmt('delete').get(key) as Row | undefined);
    return row !== undefined && Number(row.expires_at) > now;
  }

  /** Deletes `keys` in one transaction; resolves how many of them were live. */
  private deleteKeys(operation: string, keys: readonly string[]): Promise<number> {
    const now = Date.now();
    return this.writeSoon(operation, () => {
      let live = 0;
      for (const key of keys) {
        const row = this.stmt('delete').get(key) as Row | undefined;
        if (row !== undefined && Number(row.expires_at) > now) live++;
      }
      return live;
    });
  }

  async deletePattern(pattern: string): Promise<number> {
    const glob = globToLike(pattern);
    const prefix = `${globLiteral(glob.prefix)}*`;
    let removed = 0;
    let after = '';
    for (;;) {
      const keys = this.run('deletePattern', () => this.stmt('patternPage').all(prefix, glob.like, after, PAGE) as Row[]).map((row) => row.cache_key as string);
      const matched = keys.filter((key) => glob.matcher.test(key));
      if (matched.length > 0) removed += await this.deleteKeys('deletePattern', matched);
      const last = keys[keys.length - 1];
      if (last === undefined || keys.length < PAGE) return removed;
      after = last;
    }
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    const names = JSON.stringify([...new Set(tags)]);
    let removed = 0;
    for (;;) {
      const keys = this.run('deleteTags', () => this.stmt('tagged').all(names, PAGE) as Row[]).map((row) => row.cache_key as string);
      // Tag rows go with their entries (ON DELETE CASCADE), so each batch shrinks the index.
      if (keys.length > 0) removed += await this.deleteKeys('deleteTags', keys);
      if (keys.length < PAGE) return removed;
    }
  }

  async deleteTagPattern(pattern: string): Promise<number> {
    const glob = globToLike(pattern);
    const prefix = `${globLiteral(glob.prefix)}*`;
    const names: string[] = [];
    let after = '';
    for (;;) {
      const page = this.run('deleteTagPattern', () => this.stmt('tagPage').all(prefix, glob.like, after, PAGE) as Row[]).map((row) => row.tag as string);
      names.push(...page.filter((tag) => glob.matcher.test(tag)));
      const last = page[page.length - 1];
      if (last === undefined || page.length < PAGE) break;
      after = last;
    }
    return names.length === 0 ? 0 : this.deleteTags(names);
  }

  async clear(): Promise<void> {
    await this.writeSoon('clear', () => this.stmt('clear').run());
    this.hits.clear();
  }

  /**
   * Seed 002's `is_stale`: `true` when `key` needs a refresh, i.e. it has no live row (absent, or
   * past the TTL the store was given; through a `Cache`, that TTL includes any stale grace window
   * asked for with `staleIfError`/`staleWhileRevalidate`).
   *
   * @example
   * ```ts
   * if (await store.isStale('vendor:abc')) await refreshVendor('abc');
   * ```
   */
  async isStale(key: string): Promise<boolean> {
    return this.run('isStale', () => this.stmt('isLive').get(key, Date.now()) === undefined);
  }

  /**
   * Takes the lock row in one `BEGIN IMMEDIATE`. While another process holds the file's write
   * lock, an in-process lock stands in at once: coalescing in this process still holds, and the
   * request never waits for the file (filling without the cross-process lock beats waiting).
   */
  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const now = Date.now();
    let row: Row | undefined;
    try {
      row = this.write('acquireLock', () => this.stmt('acquireLock').get(key, token, now + Math.max(1, Math.ceil(ttlMs)), now) as Row | undefined);
    } catch (err) {
      if (!(err instanceof StoreTimeoutError)) throw err;
      const local = this.localLocks.acquire(key, ttlMs, token);
      if (local !== undefined) this.localTokens.add(local);
      return local;
    }
    return row?.token === token ? token : undefined;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    if (this.localTokens.delete(token)) return this.localLocks.release(key, token);
    await this.writeSoon('releaseLock', () => this.stmt('releaseLock').run(key, token));
  }

  /** The in-process limiter's rule, read and written inside one `BEGIN IMMEDIATE`, so processes sharing the file agree. */
  async consumeRate(key: string, limits: RateLimits): Promise<number> {
    try {
      return this.consumeSharedRate(key, limits);
    } catch (err) {
      // The file is locked by another process: limit in this process meanwhile, without waiting.
      if (!(err instanceof StoreTimeoutError)) throw err;
      return this.localRates.consume(key, limits, Date.now());
    }
  }

  private consumeSharedRate(key: string, limits: RateLimits): number {
    return this.write('consumeRate', () => {
      const now = Date.now();
      const row = this.stmt('readRate').get(key) as Row | undefined;
      const last = row === undefined ? Number.NEGATIVE_INFINITY : Number(row.last_ms);
      let windowStart = row === undefined ? now : Number(row.window_start_ms);
      let count = row === undefined ? 0 : Number(row.window_count);
      if (limits.minIntervalMs > 0 && now - last < limits.minIntervalMs) return limits.minIntervalMs - (now - last);
      if (limits.maxPerWindow > 0) {
        if (now - windowStart >= limits.windowMs) {
          windowStart = now;
          count = 0;
        }
        if (count >= limits.maxPerWindow) return Math.max(1, windowStart + limits.windowMs - now);
      }
      this.stmt('writeRate').run(key, now, windowStart, count + 1);
      return 0;
    });
  }

  /** Writes the hits counted in memory in one transaction. Runs every `hitFlushIntervalMs`. */
  async flushHits(): Promise<void> {
    if (this.hits.size === 0 || this.closed) return;
    const batch = this.hits;
    this.hits = new Map();
    try {
      this.write('flushHits', () => {
        for (const [key, pending] of batch) this.stmt('flushHit').run(pending.count, pending.lastAt, key);
      });
    } catch (err) {
      for (const [key, pending] of batch) if (this.hits.size < MAX_PENDING_HIT_KEYS && !this.hits.has(key)) this.hits.set(key, pending);
      throw err;
    }
  }

  /**
   * Removes expired rows, `pruneBatchSize` per transaction, then (with `maxEntries`) the least
   * recently accessed rows over the bound; resolves with how many rows it removed (what a
   * `clear_stale` job does).
   */
  async prune(): Promise<number> {
    await this.flushHits();
    const { pruneBatchSize: batch, maxEntries } = this.options;
    let removed = 0;
    for (;;) {
      const { changes } = this.write('prune', () => this.stmt('pruneExpired').run(Date.now(), batch));
      removed += changes;
      if (changes < batch) break;
    }
    this.write('prune', () => this.stmt('pruneLocks').run(Date.now()));
    if (maxEntries > 0) {
      let over = Number((this.run('prune', () => this.stmt('count').get()) as Row).n) - maxEntries;
      while (over > 0) {
        const { changes } = this.write('prune', () => this.stmt('pruneLeastRecent').run(Math.min(batch, over)));
        if (changes === 0) break;
        removed += changes;
        over -= changes;
      }
    }
    return removed;
  }

  /** Entry counts, sizes, ages and the most-hit keys in one call (monitoring); see {@link StoreInspection}. */
  async inspect(options: { top?: number } = {}): Promise<StoreInspection> {
    await this.flushHits();
    const now = Date.now();
    const row = this.run('inspect', () => this.stmt('inspect').get(now) as Row);
    const top = this.run('inspect', () => this.stmt('top').all(options.top ?? 10) as Row[]);
    const pages = this.run('inspect', () => Number((this.db as Db).pragma('page_count', { simple: true })) * Number((this.db as Db).pragma('page_size', { simple: true })));
    let storageBytes = pages;
    if (this.path !== ':memory:') {
      try {
        storageBytes = statSync(this.path).size + statSync(`${this.path}-wal`).size;
      } catch {
        // No WAL file yet (nothing written since the last checkpoint): the page count is right.
      }
    }
    const entries = Number(row.entries);
    const hits = Number(row.hits);
    return {
      entries,
      expired: Number(row.expired),
      bytes: Number(row.bytes),
      storageBytes,
      hits,
      averageHits: entries === 0 ? 0 : hits / entries,
      oldestAgeSeconds: row.oldest === null ? 0 : Math.max(0, (now - Number(row.oldest)) / 1000),
      top: top.map(
        (entry): InspectedEntry => ({
          key: entry.cache_key as string,
          hits: Number(entry.hit_count),
          createdAt: new Date(Number(entry.created_at)),
          expiresAt: new Date(Number(entry.expires_at)),
          lastAccessedAt: new Date(Number(entry.last_accessed_at)),
        }),
      ),
    };
  }

  /** Writes pending hits, stops the timers and closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const timer of this.timers) clearInterval(timer);
    try {
      await this.flushHits();
    } catch {
      // Statistics only; the entries themselves are already on disk.
    }
    this.closed = true;
    this.db?.close();
  }
}
