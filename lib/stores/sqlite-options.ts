import { InvalidOptionError } from '../errors';
import { nonNegativeInteger, optionalBoolean, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';
import { tableName } from './sql-options';

/**
 * Options of {@link SqliteStore}.
 *
 * @example
 * ```ts
 * const options: SqliteStoreOptions = { path: 'cache/project_status.db', maxEntries: 10_000 };
 * ```
 */
export interface SqliteStoreOptions {
  /**
   * The database file; missing directories are created. `':memory:'` keeps the cache in this
   * process only (it then does not survive a restart).
   * @default 'cache/cache.db'
   */
  path?: string;
  /**
   * The entry table; the tag, lock and limiter tables are named after it (`<table>_tags`, ...).
   * @default 'cache_entries'
   */
  table?: string;
  /**
   * Whether the store creates the tables and indexes when missing. `false` when a migration
   * tool owns the schema: run {@link sqliteCacheDdl} there.
   * @default true
   */
  createTable?: boolean;
  /**
   * LRU bound: `prune()` removes the least recently accessed rows over this many. `0` is no
   * bound. Between prunes the table can exceed it by what was written in one `pruneIntervalMs`.
   * @default 0 (off)
   */
  maxEntries?: number;
  /**
   * How often `prune()` runs in the background, in milliseconds (the timer never keeps the
   * process alive). `0` turns it off: call `prune()` yourself.
   * @default 60000
   */
  pruneIntervalMs?: number;
  /**
   * Rows removed per `prune()` transaction, so a large cleanup never holds the write lock long.
   * @default 1000
   */
  pruneBatchSize?: number;
  /**
   * How often hits counted in memory are written (`hit_count`, `last_accessed_at`), in one
   * transaction; `close()`, `prune()` and `inspect()` write them first too.
   * @default 1000
   */
  hitFlushIntervalMs?: number;
  /**
   * How long a write that must happen (delete, clear, releasing a lock) keeps trying
   * while another process holds the file's write lock, in milliseconds; past it the operation
   * fails with a `StoreTimeoutError`. It tries again on a timer: no operation ever waits for
   * the lock synchronously (which would stop the event loop), and an entry write that finds the
   * file locked is skipped at once.
   * @default 250
   */
  operationTimeoutMs?: number;
}

/**
 * Defaults of {@link SqliteStoreOptions}.
 *
 * @example
 * ```ts
 * new SqliteStore({ path: DEFAULT_SQLITE_STORE_OPTIONS.path });
 * ```
 */
export const DEFAULT_SQLITE_STORE_OPTIONS = Object.freeze({
  path: 'cache/cache.db',
  table: 'cache_entries',
  createTable: true,
  maxEntries: 0,
  pruneIntervalMs: 60_000,
  pruneBatchSize: 1_000,
  hitFlushIntervalMs: 1_000,
  operationTimeoutMs: 250,
});

/** @internal */
export type ResolvedSqliteStoreOptions = { -readonly [K in keyof typeof DEFAULT_SQLITE_STORE_OPTIONS]: (typeof DEFAULT_SQLITE_STORE_OPTIONS)[K] extends string ? string : (typeof DEFAULT_SQLITE_STORE_OPTIONS)[K] extends boolean ? boolean : number };

/** @internal */
export function resolveSqliteStoreOptions(options: SqliteStoreOptions): ResolvedSqliteStoreOptions {
  plainObject('SqliteStore options', options);
  rejectUnknownOptions('SqliteStore', options, Object.keys(DEFAULT_SQLITE_STORE_OPTIONS));
  const d = DEFAULT_SQLITE_STORE_OPTIONS;
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === '')) {
    throw new InvalidOptionError('path', `expected a file path or ':memory:', got ${String(options.path)}`);
  }
  return {
    path: options.path ?? d.path,
    table: tableName('table', options.table, d.table),
    createTable: optionalBoolean('createTable', options.createTable, d.createTable),
    maxEntries: nonNegativeInteger('maxEntries', options.maxEntries, d.maxEntries),
    pruneIntervalMs: nonNegativeInteger('pruneIntervalMs', options.pruneIntervalMs, d.pruneIntervalMs),
    pruneBatchSize: positiveInteger('pruneBatchSize', options.pruneBatchSize, d.pruneBatchSize),
    hitFlushIntervalMs: positiveInteger('hitFlushIntervalMs', options.hitFlushIntervalMs, d.hitFlushIntervalMs),
    operationTimeoutMs: positiveInteger('operationTimeoutMs', options.operationTimeoutMs, d.operationTimeoutMs),
  };
}
