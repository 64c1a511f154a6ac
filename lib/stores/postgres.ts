import { randomUUID } from 'node:crypto';
import { CacheError, StoreClosedError, StoreError, StoreTimeoutError, loadPeer } from '../errors';
import {
  type PgPool,
  type PgPoolClient,
  type PostgresStoreOptions,
  type ResolvedPostgresStoreOptions,
  resolvePostgresStoreOptions,
} from './postgres-options';
import { globToLike } from './sql-glob';
import type { InspectedEntry, RateLimits, Store, StoreInspection } from './store';

/**
 * The schema of one PostgreSQL cache table and its companions, for migrations (what
 * `ready()` runs when `createTable` is on). Keys use the `"C"` collation: byte order makes the
 * primary key index serve prefix `LIKE` patterns too, whatever the database's locale.
 *
 * @example
 * ```ts
 * await client.query(postgresCacheDdl('cache_llm_responses'));
 * ```
 */
export function postgresCacheDdl(table = 'cache_entries'): string {
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  cache_key text COLLATE "C" PRIMARY KEY,
  cache_value bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  hit_count bigint NOT NULL DEFAULT 0,
  last_accessed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${table}_expires_at_idx ON ${table} (expires_at);
CREATE INDEX IF NOT EXISTS ${table}_last_accessed_at_idx ON ${table} (last_accessed_at);
CREATE TABLE IF NOT EXISTS ${table}_tags (
  tag text COLLATE "C" NOT NULL,
  cache_key text COLLATE "C" NOT NULL REFERENCES ${table} (cache_key) ON DELETE CASCADE,
  PRIMARY KEY (tag, cache_key)
);
CREATE INDEX IF NOT EXISTS ${table}_tags_cache_key_idx ON ${table}_tags (cache_key);
CREATE TABLE IF NOT EXISTS ${table}_locks (
  lock_key text COLLATE "C" PRIMARY KEY,
  token text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ${table}_rates (
  rate_key text COLLATE "C" PRIMARY KEY,
  last_ms bigint NOT NULL,
  window_start_ms bigint NOT NULL,
  window_count integer NOT NULL,
  wait_ms bigint NOT NULL DEFAULT 0
);`;
}

/**
 * The statements of a store on `table`. Exported for tests (the `EXPLAIN` of the pattern scan)
 * and for reading: every statement the store runs is here.
 * @internal
 */
export function postgresStatements(table: string) {
  const tags = `${table}_tags`;
  const locks = `${table}_locks`;
  const rates = `${table}_rates`;
  // The limiter in one statement: the upsert locks the row, and every SET expression sees the
  // row as it was, so the check and the count cannot be split by a concurrent caller. Time is
  // the server's clock (EXCLUDED.last_ms), so instances with skewed clocks agree.
  const now = 'EXCLUDED.last_ms';
  const spacing = `(CASE WHEN $2::bigint > 0 AND ${now} - r.last_ms < $2::bigint THEN $2::bigint - (${now} - r.last_ms) ELSE 0 END)`;
  const fresh = `(${now} - r.window_start_ms >= $4::bigint)`;
  const count = `(CASE WHEN ${fresh} THEN 0 ELSE r.window_count END)`;
  const windowWait = `(CASE WHEN $3::bigint > 0 AND ${count} >= $3::bigint THEN GREATEST(1, r.window_start_ms + $4::bigint - ${now}) ELSE 0 END)`;
  const wait = `(CASE WHEN ${spacing} > 0 THEN ${spacing} ELSE ${windowWait} END)`;
  return {
    get: `SELECT cache_value FROM ${table} WHERE cache_key = $1 AND expires_at > now()`,
    isLive: `SELECT 1 FROM ${table} WHERE cache_key = $1 AND expires_at > now()`,
    // One statement: the entry upsert and its tag rows, so an entry is never visible without
    // being reachable from its tags. Tags of a previous value are replaced; hit_count is kept
    // (it counts the key's popularity, not the value's).
    set: `
WITH entry AS (
  INSERT INTO ${table} (cache_key, cache_value, created_at, expires_at, hit_count, last_accessed_at)
  VALUES ($1, $2, now(), now() + $3 * interval '1 millisecond', 0, now())
  ON CONFLICT (cache_key) DO UPDATE SET cache_value = EXCLUDED.cache_value, created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at, last_accessed_at = EXCLUDED.last_accessed_at
  RETURNING cache_key
), dropped AS (
  DELETE FROM ${tags} WHERE cache_key = $1 AND NOT (tag = ANY ($4::text[]))
)
INSERT INTO ${tags} (tag, cache_key) SELECT DISTINCT unnest($4::text[]), cache_key FROM entry ON CONFLICT DO NOTHING`,
    delete: `DELETE FROM ${table} WHERE cache_key = $1 RETURNING expires_at > now() AS live`,
    // Keyset pages over the primary key; with the "C" collation the planner turns the LIKE
    // prefix into an index range.
    patternPage: `SELECT cache_key FROM ${table} WHERE cache_key LIKE $1 ESCAPE '\\' AND cache_key > $2 ORDER BY cache_key LIMIT $3`,
    deleteKeys: `DELETE FROM ${table} WHERE cache_key = ANY ($1::text[]) RETURNING expires_at > now() AS live`,
    tagPage: `SELECT DISTINCT tag FROM ${tags} WHERE tag LIKE $1 ESCAPE '\\' AND tag > $2 ORDER BY tag LIMIT $3`,
    // Tag rows go with their entries (ON DELETE CASCADE), so each batch shrinks the index.
    deleteTagged: `
WITH victims AS (SELECT DISTINCT cache_key FROM ${tags} WHERE tag = ANY ($1::text[]) LIMIT $2)
DELETE FROM ${table} t USING victims WHERE t.cache_key = victims.cache_key RETURNING t.expires_at > now() AS live`,
    clear: `DELETE FROM ${table}`,
    flushHits: `
UPDATE ${table} t SET hit_count = t.hit_count + v.n, last_accessed_at = GREATEST(t.last_accessed_at, to_timestamp(v.at / 1000.0))
FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS v(k, n, at) WHERE t.cache_key = v.k`,
    pruneExpired: `
WITH victims AS (SELECT cache_key FROM ${table} WHERE expires_at <= now() LIMIT $1)
DELETE FROM ${table} t USING victims WHERE t.cache_key = victims.cache_key`,
    pruneLocks: `DELETE FROM ${locks} WHERE expires_at <= now()`,
    count: `SELECT count(*)::bigint AS n FROM ${table}`,
    pruneLeastRecent: `
WITH victims AS (SELECT cache_key FROM ${table} ORDER BY last_accessed_at, cache_key LIMIT $1)
DELETE FROM ${table} t USING victims WHERE t.cache_key = victims.cache_key`,
    inspect: `
SELECT count(*)::bigint AS entries,
  count(*) FILTER (WHERE expires_at <= now())::bigint AS expired,
  coalesce(sum(octet_length(cache_key) + octet_length(cache_value)), 0)::bigint AS bytes,
  coalesce(sum(hit_count), 0)::bigint AS hits,
  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest,
  (pg_total_relation_size('${table}') + pg_total_relation_size('${tags}'))::bigint AS storage
FROM ${table}`,
    top: `SELECT cache_key, hit_count, created_at, expires_at, last_accessed_at FROM ${table} ORDER BY hit_count DESC, cache_key LIMIT $1`,
    acquireLock: `
INSERT INTO ${locks} (lock_key, token, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
ON CONFLICT (lock_key) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at WHERE ${locks}.expires_at <= now()
RETURNING token`,
    releaseLock: `DELETE FROM ${locks} WHERE lock_key = $1 AND token = $2`,
    consumeRate: `
INSERT INTO ${rates} AS r (rate_key, last_ms, window_start_ms, window_count, wait_ms)
VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 1, 0)
ON CONFLICT (rate_key) DO UPDATE SET
  wait_ms = ${wait},
  last_ms = CASE WHEN ${wait} = 0 THEN ${now} ELSE r.last_ms END,
  window_start_ms = CASE WHEN ${wait} = 0 AND ${fresh} THEN ${now} ELSE r.window_start_ms END,
  window_count = CASE WHEN ${wait} = 0 THEN ${count} + 1 ELSE r.window_count END
RETURNING wait_ms`,
    // Two processes running `ready()` at once would race on CREATE ... IF NOT EXISTS (it is not
    // atomic in PostgreSQL); a transaction-scoped advisory lock makes them take turns.
    lockSchema: `SELECT pg_advisory_xact_lock(hashtext($1))`,
    exists: `SELECT 1 FROM ${table} LIMIT 0`,
  };
}

type Statements = ReturnType<typeof postgresStatements>;

interface PendingHits {
  count: number;
  lastAt: number;
}

/** Beyond this many distinct keys, hits that could not be flushed are dropped, not queued. */
const MAX_PENDING_HIT_KEYS = 100_000;
const PAGE = 1_000;

function loadPg(): { Pool: new (config: Record<string, unknown>) => PgPool } {
  // Loaded lazily so `pg` stays an optional peer for users of the other stores.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadPeer('PostgresStore', 'pg', () => require('pg') as { Pool: new (config: Record<string, unknown>) => PgPool });
}

/**
 * A store on a PostgreSQL table (indexed cache tables, one per kind of data): `cache_key`
 * (primary key), `cache_value` (bytea), `created_at`, `expires_at`, `hit_count`,
 * `last_accessed_at`, plus `<table>_tags`, `<table>_locks` and `<table>_rates`.
 *
 * - Reads never return an expired row; writes are one upsert (with the tag rows, in the same
 *   statement). Expired rows stay until `prune()` (every `pruneIntervalMs` in the background).
 * - A hit costs no write: hits are counted in memory and written in one statement every
 *   `hitFlushIntervalMs` (and by `close()`, `prune()`, `inspect()`).
 * - Every operation is bounded by `operationTimeoutMs`, connection checkout included; a stopped
 *   or frozen server is a miss within that time, and the connection that timed out is dropped.
 * - Locks are rows with an expiry, taken with one upsert; the origin limiter is one atomic
 *   upsert on the server's clock. Both work across every process sharing the database.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL, table: 'cache_llm_responses', maxEntries: 100_000 });
 * await store.ready();
 * const cache = createCache({ store, defaultTtl: 'llm_responses' });
 * ```
 */
export class PostgresStore implements Store {
  readonly name = 'postgres';
  /** The `pg.Pool` in use. */
  readonly pool: PgPool;
  /** The entry table. */
  readonly table: string;
  private readonly options: ResolvedPostgresStoreOptions;
  private readonly sql: Statements;
  private readonly ownsPool: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  private hits = new Map<string, PendingHits>();
  private schema: Promise<void> | undefined;
  private pruning: Promise<number> | undefined;
  private closed = false;
  private connectionError: Error | undefined;

  constructor(options: PostgresStoreOptions) {
    this.options = resolvePostgresStoreOptions(options);
    this.table = this.options.table;
    this.sql = postgresStatements(this.table);
    if (this.options.pool) {
      this.pool = this.options.pool;
      this.ownsPool = false;
    } else {
      const { Pool } = loadPg();
      this.pool = new Pool({
        connectionString: this.options.connectionString,
        // A connect that cannot finish (a frozen server) must give up by itself too, or waiters
        // pile up in the pool; our own timer already answers the caller.
        connectionTimeoutMillis: Math.max(1_000, this.options.operationTimeoutMs * 4),
        ...this.options.poolOptions,
      });
      // Idle connections that break (server restart) are reported here; the next operation
      // reports its own failure, so this one needs no voice. Without a listener pg would crash.
      this.pool.on('error', () => undefined);
      this.ownsPool = true;
    }
    this.timers.push(setInterval(() => void this.flushHits().catch(() => undefined), this.options.hitFlushIntervalMs).unref());
    if (this.options.pruneIntervalMs > 0) {
      // A failed background prune is retried at the next interval; `prune()` called directly rejects.
      this.timers.push(setInterval(() => void this.prune().catch(() => undefined), this.options.pruneIntervalMs).unref());
    }
  }

  /**
   * Connects and creates the tables and indexes when missing (unless `createTable: false`, then
   * it checks the table exists). Resolves `true` when the store is usable, `false` when it is not
   * within `timeoutMs` (server down, wrong credentials, missing table); then
   * {@link PostgresStore.lastConnectionError} says why. It never rejects, like every store's
   * `ready()`: a cache that cannot reach its database is a miss, not a reason to stop a boot.
   * Operations run the same schema step themselves on first use, so a `false` at startup heals
   * once PostgreSQL answers.
   *
   * @example
   * ```ts
   * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL });
   * if (!(await store.ready(2_000))) console.warn('cache database not reachable yet:', store.lastConnectionError?.message);
   * ```
   */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.withTimeout('ready', timeoutMs, this.ensureSchema());
      this.connectionError = undefined;
      return true;
    } catch (err) {
      this.connectionError = err instanceof Error ? err : new Error(String(err));
      return false;
    }
  }

  /**
   * Why the last {@link PostgresStore.ready} resolved `false` (a `StoreError` or
   * `StoreTimeoutError` whose `cause` is the driver's error, e.g. `ECONNREFUSED`, or "relation
   * does not exist" with `createTable: false`); `undefined` after a successful one.
   */
  get lastConnectionError(): Error | undefined {
    return this.connectionError;
  }

  private ensureSchema(): Promise<void> {
    this.schema ??= this.connected('ready', async (client) => {
      if (!this.options.createTable) {
        await client.query(this.sql.exists);
        return;
      }
      await client.query('BEGIN');
      try {
        await client.query(this.sql.lockSchema, [`express-cache-kit:${this.table}`]);
        await client.query(postgresCacheDdl(this.table));
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }).catch((err: unknown) => {
      // Try again on the next operation (the server may just not be up yet).
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  /** Checks out a connection, runs `work`, and returns it (destroyed if the work failed). */
  private async connected<T>(operation: string, work: (client: PgPoolClient) => Promise<T>, state?: { timedOut: boolean; client?: PgPoolClient }): Promise<T> {
    const client = await this.pool.connect();
    if (state?.timedOut) {
      // The caller gave up while we waited for a connection; the connection itself is fine.
      client.release();
      throw new StoreTimeoutError(operation, this.options.operationTimeoutMs);
    }
    if (state) state.client = client;
    // A checked-out connection that breaks (server stopped) emits `error` on the client, not the
    // pool; unheard, it would end the process. The failing query reports it to the caller.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    const release = (err?: Error | boolean): void => {
      // Abandoned on timeout: already destroyed. The listener stays on any connection that is
      // being destroyed, since its socket may still report; a healthy one goes back to the pool,
      // which listens to idle connections itself.
      if (state !== undefined && state.client !== client) return;
      if (err === undefined) client.off('error', ignore);
      client.release(err);
    };
    try {
      const result = await work(client);
      release();
      return result;
    } catch (err) {
      // The table vanished (dropped, or a new server): create it again on the next operation.
      if ((err as { code?: unknown }).code === '42P01') this.schema = undefined;
      release(err instanceof Error ? err : true);
      throw err;
    } finally {
      if (state) state.client = undefined;
    }
  }

  private async withTimeout<T>(operation: string, timeoutMs: number, promise: Promise<T>, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            onTimeout?.();
            reject(new StoreTimeoutError(operation, timeoutMs));
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      throw this.wrapError(operation, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs one operation within `timeoutMs` (default `operationTimeoutMs`), the schema check and
   * the connection checkout included. On timeout the connection in use is destroyed: a frozen
   * server must not keep pool slots, and a late answer must not reach the next user.
   */
  private async run<T>(operation: string, work: (client: PgPoolClient) => Promise<T>, timeoutMs = this.options.operationTimeoutMs): Promise<T> {
    if (this.closed) throw new StoreClosedError('PostgresStore');
    const state: { timedOut: boolean; client?: PgPoolClient } = { timedOut: false };
    const attempt = (async () => {
      await this.ensureSchema();
      return this.connected(operation, work, state);
    })();
    // A late rejection of an abandoned attempt has nobody to tell.
    attempt.catch(() => undefined);
    return this.withTimeout(operation, timeoutMs, attempt, () => {
      state.timedOut = true;
      const client = state.client;
      state.client = undefined;
      client?.release(new Error(`${operation} timed out`));
    });
  }

  private query(operation: string, text: string, values?: unknown[], timeoutMs?: number): Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }> {
    return this.run(operation, (client) => client.query(text, values) as Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }>, timeoutMs);
  }

  private wrapError(operation: string, err: unknown): CacheError {
    if (err instanceof CacheError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (/timeout|timed out/i.test(message)) return new StoreTimeoutError(operation, this.options.operationTimeoutMs);
    return new StoreError(operation, `postgres ${operation} failed: ${message}`, { cause: err });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { rows } = await this.query('get', this.sql.get, [key]);
    const value = rows[0]?.cache_value as Buffer | undefined;
    if (value === undefined) return undefined;
    const pending = this.hits.get(key);
    if (pending) {
      pending.count++;
      pending.lastAt = Date.now();
    } else {
      this.hits.set(key, { count: 1, lastAt: Date.now() });
    }
    return value;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    await this.query('set', this.sql.set, [key, value, Math.max(1, Math.ceil(ttlMs)), [...new Set(tags ?? [])]]);
  }

  async delete(key: string): Promise<boolean> {
    const { rows } = await this.query('delete', this.sql.delete, [key]);
    return rows.some((row) => row.live === true);
  }

  /**
   * Removes the keys matching the Redis glob `pattern` (translated to `LIKE` with `%`, `_` and
   * `\` escaped; a character class is filtered exactly after a `LIKE` superset). Pages of 1,000
   * keys over the primary key, so a prefix pattern reads only its own range of the index.
   */
  async deletePattern(pattern: string): Promise<number> {
    const glob = globToLike(pattern);
    let removed = 0;
    let after = '';
    for (;;) {
      const { rows } = await this.query('deletePattern', this.sql.patternPage, [glob.like, after, PAGE]);
      const keys = rows.map((row) => row.cache_key as string);
      const last = keys[keys.length - 1];
      const matched = keys.filter((key) => glob.matcher.test(key));
      if (matched.length > 0) {
        const deleted = await this.query('deletePattern', this.sql.deleteKeys, [matched]);
        removed += deleted.rows.filter((row) => row.live === true).length;
      }
      if (last === undefined || keys.length < PAGE) return removed;
      after = last;
    }
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    const unique = [...new Set(tags)];
    if (unique.length === 0) return 0;
    let removed = 0;
    for (;;) {
      const { rows } = await this.query('deleteTags', this.sql.deleteTagged, [unique, PAGE]);
      removed += rows.filter((row) => row.live === true).length;
      if (rows.length < PAGE) return removed;
    }
  }

  async deleteTagPattern(pattern: string): Promise<number> {
    const glob = globToLike(pattern);
    const names: string[] = [];
    let after = '';
    for (;;) {
      const { rows } = await this.query('deleteTagPattern', this.sql.tagPage, [glob.like, after, PAGE]);
      const page = rows.map((row) => row.tag as string);
      names.push(...page.filter((tag) => glob.matcher.test(tag)));
      const last = page[page.length - 1];
      if (last === undefined || page.length < PAGE) break;
      after = last;
    }
    return names.length === 0 ? 0 : this.deleteTags(names);
  }

  async clear(): Promise<void> {
    await this.query('clear', this.sql.clear);
    this.hits.clear();
  }

  /**
   * Whether `key` needs a refresh: `true` when it has no live row (absent, or past the TTL the
   * store was given; through a `Cache`, that TTL includes any stale grace window).
   */
  async isStale(key: string): Promise<boolean> {
    const { rows } = await this.query('isStale', this.sql.isLive, [key]);
    return rows.length === 0;
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const { rows } = await this.query('acquireLock', this.sql.acquireLock, [key, token, Math.max(1, Math.ceil(ttlMs))]);
    return rows[0]?.token === token ? token : undefined;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.query('releaseLock', this.sql.releaseLock, [key, token]);
  }

  async consumeRate(key: string, limits: RateLimits): Promise<number> {
    const { rows } = await this.query('consumeRate', this.sql.consumeRate, [key, limits.minIntervalMs, limits.maxPerWindow, limits.windowMs]);
    return Number(rows[0]?.wait_ms ?? 0);
  }

  /**
   * Writes the hits counted in memory (`hit_count`, `last_accessed_at`) in one statement. Runs
   * every `hitFlushIntervalMs`; call it before reading the columns yourself.
   */
  async flushHits(): Promise<void> {
    if (this.hits.size === 0 || this.closed) return;
    const batch = this.hits;
    this.hits = new Map();
    const keys = [...batch.keys()];
    const counts = keys.map((key) => (batch.get(key) as PendingHits).count);
    const times = keys.map((key) => (batch.get(key) as PendingHits).lastAt);
    try {
      await this.query('flushHits', this.sql.flushHits, [keys, counts, times], this.options.maintenanceTimeoutMs);
    } catch (err) {
      // Keep the counts for the next flush rather than losing them to a blip, within a bound.
      for (const [key, pending] of batch) {
        const current = this.hits.get(key);
        if (current) {
          current.count += pending.count;
          current.lastAt = Math.max(current.lastAt, pending.lastAt);
        } else if (this.hits.size < MAX_PENDING_HIT_KEYS) {
          this.hits.set(key, pending);
        }
      }
      throw err;
    }
  }

  /**
   * Removes expired rows, `pruneBatchSize` per statement, then (with `maxEntries`) the least
   * recently accessed rows over the bound; resolves with how many rows it removed. Concurrent
   * calls share one run.
   */
  prune(): Promise<number> {
    this.pruning ??= this.pruneOnce().finally(() => {
      this.pruning = undefined;
    });
    return this.pruning;
  }

  private async pruneOnce(): Promise<number> {
    const { pruneBatchSize: batch, maxEntries, maintenanceTimeoutMs: timeout } = this.options;
    await this.flushHits();
    let removed = 0;
    for (;;) {
      const { rowCount } = await this.query('prune', this.sql.pruneExpired, [batch], timeout);
      removed += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) break;
    }
    await this.query('prune', this.sql.pruneLocks, [], timeout);
    if (maxEntries > 0) {
      const { rows } = await this.query('prune', this.sql.count, [], timeout);
      let over = Number(rows[0]?.n ?? 0) - maxEntries;
      while (over > 0) {
        const { rowCount } = await this.query('prune', this.sql.pruneLeastRecent, [Math.min(batch, over)], timeout);
        if (!rowCount) break;
        removed += rowCount;
        over -= rowCount;
      }
    }
    return removed;
  }

  /** Seed 003's monitoring queries as one call; see {@link StoreInspection}. */
  async inspect(options: { top?: number } = {}): Promise<StoreInspection> {
    const limit = options.top ?? 10;
    const timeout = this.options.maintenanceTimeoutMs;
    await this.flushHits();
    const [summary, top] = await Promise.all([this.query('inspect', this.sql.inspect, [], timeout), this.query('inspect', this.sql.top, [limit], timeout)]);
    const row = summary.rows[0] ?? {};
    const entries = Number(row.entries ?? 0);
    const hits = Number(row.hits ?? 0);
    return {
      entries,
      expired: Number(row.expired ?? 0),
      bytes: Number(row.bytes ?? 0),
      storageBytes: Number(row.storage ?? 0),
      hits,
      averageHits: entries === 0 ? 0 : hits / entries,
      oldestAgeSeconds: Number(row.oldest ?? 0),
      top: top.rows.map(
        (entry): InspectedEntry => ({
          key: entry.cache_key as string,
          hits: Number(entry.hit_count),
          createdAt: entry.created_at as Date,
          expiresAt: entry.expires_at as Date,
          lastAccessedAt: entry.last_accessed_at as Date,
        }),
      ),
    };
  }

  /** Writes pending hits, stops the timers and ends the pool if the store created it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const timer of this.timers) clearInterval(timer);
    try {
      await this.flushHits();
    } catch {
      // Hit counts are statistics: losing one interval's worth to a dead server is acceptable.
    }
    this.closed = true;
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }
}
