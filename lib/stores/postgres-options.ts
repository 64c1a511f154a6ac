import { InvalidOptionError } from '../errors';
import { nonNegativeInteger, optionalBoolean, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';
import { tableName } from './sql-options';

/**
 * The part of a `pg` query result the store reads (a `pg.QueryResult` fits).
 *
 * @example
 * ```ts
 * const result: PgQueryResult = await pool.query('SELECT 1');
 * ```
 */
export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/**
 * The part of a `pg.PoolClient` the store uses.
 *
 * @example
 * ```ts
 * const client: PgPoolClient = await pool.connect();
 * client.release();
 * ```
 */
export interface PgPoolClient {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  /** With an error, the pool destroys the connection instead of reusing it. */
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * The part of a `pg.Pool` the store uses; declared here so the package's types do not need
 * `@types/pg` installed. A `pg.Pool` fits.
 *
 * @example
 * ```ts
 * const pool: PgPool = new Pool({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export interface PgPool {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Options of {@link PostgresStore}: exactly one of `pool` or `connectionString`.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { pool, table: 'cache_embeddings', maxEntries: 50_000, pruneIntervalMs: 3_600_000 };
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` you own; the store never ends it. Give it an `error` listener: `pg` emits idle
   * connection failures (a restarted server) on the pool, and an unheard one ends the process.
   */
  pool?: PgPool;
  /**
   * A `postgres://` URL; the store creates and owns a `pg.Pool` (with `poolOptions`). `undefined`
   * counts as not given, so `{ connectionString: process.env.DATABASE_URL }` type-checks (and
   * throws naming the option when the variable is unset).
   */
  connectionString?: string | undefined;
  /** Extra `pg.Pool` options for the pool created from `connectionString` (e.g. `max`). */
  poolOptions?: Record<string, unknown>;
  /**
   * The entry table; the tag, lock and limiter tables are named after it (`<table>_tags`, ...).
   * One table per named cache, like `cache_embeddings` and `cache_llm_responses`.
   * @default 'cache_entries'
   */
  table?: string;
  /**
   * Whether `ready()` creates the tables and indexes when missing. `false` when a migration tool
   * owns the schema: run {@link postgresCacheDdl} there.
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
   * Rows removed per `prune()` statement, so a million expired rows never hold one long lock.
   * @default 1000
   */
  pruneBatchSize?: number;
  /**
   * How often hits counted in memory are written (`hit_count`, `last_accessed_at`), in one
   * statement; `close()`, `prune()` and `inspect()` write them first too.
   * @default 1000
   */
  hitFlushIntervalMs?: number;
  /**
   * How long one store operation may take, in milliseconds, checkout of a connection included.
   * A dead or frozen server is a miss (and an `error` event) within this time, never a hang; the
   * connection that timed out is discarded.
   * @default 250
   */
  operationTimeoutMs?: number;
  /**
   * The bound of each maintenance statement (`prune()` batches, `inspect()`, hit flushes), in
   * milliseconds: they scan more than one row, so they get more time than a request does.
   * @default 10000
   */
  maintenanceTimeoutMs?: number;
}

/**
 * Defaults of {@link PostgresStoreOptions}.
 *
 * @example
 * ```ts
 * new PostgresStore({ pool, operationTimeoutMs: DEFAULT_POSTGRES_STORE_OPTIONS.operationTimeoutMs * 2 });
 * ```
 */
export const DEFAULT_POSTGRES_STORE_OPTIONS = Object.freeze({
  table: 'cache_entries',
  createTable: true,
  maxEntries: 0,
  pruneIntervalMs: 60_000,
  pruneBatchSize: 1_000,
  hitFlushIntervalMs: 1_000,
  operationTimeoutMs: 250,
  maintenanceTimeoutMs: 10_000,
});

const KNOWN = ['pool', 'connectionString', 'poolOptions', ...Object.keys(DEFAULT_POSTGRES_STORE_OPTIONS)];

/** @internal */
export interface ResolvedPostgresStoreOptions {
  pool?: PgPool;
  connectionString?: string;
  poolOptions: Record<string, unknown>;
  table: string;
  createTable: boolean;
  maxEntries: number;
  pruneIntervalMs: number;
  pruneBatchSize: number;
  hitFlushIntervalMs: number;
  operationTimeoutMs: number;
  maintenanceTimeoutMs: number;
}

/** @internal */
export function resolvePostgresStoreOptions(options: PostgresStoreOptions): ResolvedPostgresStoreOptions {
  plainObject('PostgresStore options', options);
  rejectUnknownOptions('PostgresStore', options, KNOWN);
  const { pool, connectionString } = options;
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new InvalidOptionError('pool', 'pass exactly one of "pool" (a pg.Pool) or "connectionString"');
  }
  if (pool !== undefined && (pool === null || typeof pool !== 'object' || typeof pool.connect !== 'function')) {
    throw new InvalidOptionError('pool', 'expected a pg.Pool instance');
  }
  if (connectionString !== undefined && (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))) {
    throw new InvalidOptionError('connectionString', `expected a postgres:// or postgresql:// URL, got ${String(connectionString)}`);
  }
  if (options.poolOptions !== undefined) plainObject('poolOptions', options.poolOptions);
  const d = DEFAULT_POSTGRES_STORE_OPTIONS;
  return {
    pool,
    connectionString,
    poolOptions: options.poolOptions ?? {},
    table: tableName('table', options.table, d.table),
    createTable: optionalBoolean('createTable', options.createTable, d.createTable),
    maxEntries: nonNegativeInteger('maxEntries', options.maxEntries, d.maxEntries),
    pruneIntervalMs: nonNegativeInteger('pruneIntervalMs', options.pruneIntervalMs, d.pruneIntervalMs),
    pruneBatchSize: positiveInteger('pruneBatchSize', options.pruneBatchSize, d.pruneBatchSize),
    hitFlushIntervalMs: positiveInteger('hitFlushIntervalMs', options.hitFlushIntervalMs, d.hitFlushIntervalMs),
    operationTimeoutMs: positiveInteger('operationTimeoutMs', options.operationTimeoutMs, d.operationTimeoutMs),
    maintenanceTimeoutMs: positiveInteger('maintenanceTimeoutMs', options.maintenanceTimeoutMs, d.maintenanceTimeoutMs),
  };
}
