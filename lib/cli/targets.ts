import { existsSync } from 'node:fs';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import type BetterSqlite3 from 'better-sqlite3';
import type { Cache } from '../engine/cache';
import { createCache } from '../compose';
import { InvalidationPendingError, loadPeer } from '../errors';
import { globToRegExp } from '../keys';
import { type EntryView, viewEntry } from '../metrics/entry-view';
import { type ListedEntry, isInternalKey, scanRedis } from '../metrics/inventory';
import { decodeEntry, formatSource, peekSource } from '../serializer';
import { PostgresStore } from '../stores/postgres';
import { RedisStore, loadIORedis } from '../stores/redis';
import { escapeLike } from '../stores/sql-glob';
import { SqliteStore } from '../stores/sqlite';
import type { Store } from '../stores/store';

/** A command line mistake: exit 1 with the message. @internal */
export class UsageError extends Error {}
/** The server, database or app could not be reached: exit 2 with the message. @internal */
export class UnreachableError extends Error {}

/** What `inspect` finds under a key. */
export type Inspected = { view: EntryView } | { corrupt: string; bytes: number } | undefined;

/** What `invalidate` removes: exactly one of them. */
export type Invalidation = { pattern: string } | { tags: string[] } | { scope: string; id?: string };

/**
 * Where the CLI reads a cache: a Redis, a PostgreSQL table, a SQLite file, or a running app's
 * dashboard (for apps on the memory store). Keys are without the namespace.
 * @internal
 */
export interface Target {
  /** Every entry, in batches (internal keys left out). */
  entries(): AsyncIterable<ListedEntry[]>;
  /** One page of entries matching `pattern`, and the cursor of the next page (`null`: last). */
  page(pattern: string, limit: number, cursor: string | undefined): Promise<{ entries: ListedEntry[]; cursor: string | null }>;
  /** The URL each response entry answers (`GET /path?query`), for those that carry one. */
  urls(keys: readonly string[]): Promise<Map<string, string>>;
  /** How many tags index entries; `null` when this target cannot tell. */
  tags(): Promise<number | null>;
  inspect(key: string): Promise<Inspected>;
  invalidate(what: Invalidation): Promise<number>;
  close(): Promise<void>;
}

// The first bytes of a stored response hold its metadata (the request source among it); this
// much covers the headers of any ordinary answer without reading bodies.
const META_PREFIX_BYTES = 8_192;

function inspectBytes(key: string, bytes: Buffer | undefined | null, ttlMs: number): Inspected {
  if (bytes === undefined || bytes === null) return undefined;
  try {
    return { view: viewEntry(decodeEntry(bytes), key, bytes.length, ttlMs) };
  } catch (error) {
    return { corrupt: error instanceof Error ? error.message : String(error), bytes: bytes.length };
  }
}

/** Runs the engine's own invalidation on `store`: same escaping, tag indexes and counts as the app's. */
async function invalidateWith(store: Store, namespace: string, what: Invalidation): Promise<number> {
  const cache: Cache = createCache({ store, namespace, breaker: false });
  try {
    // Strict: this process exits next, so an invalidation journaled for later would be lost.
    if ('pattern' in what) return await cache.invalidatePattern(what.pattern, { strict: true });
    if ('tags' in what) return await cache.invalidateTags(what.tags, { strict: true });
    return await cache.invalidateScope(what.scope, what.id, { strict: true });
  } catch (error) {
    // The app's journal would replay it later; this process exits now, so say it was not done.
    if (error instanceof InvalidationPendingError) throw new UnreachableError(`the store did not take the invalidation (${reason(error.cause)}); nothing is queued: run it again when the store answers`);
    throw error;
  } finally {
    await cache.close();
  }
}

function reason(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause ?? error;
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ?? cause.message;
  return String(cause);
}

// ------------------------------------------------------------------------------------------
// Redis

async function connectRedis(url: string): Promise<Redis> {
  const { Redis: RedisClient } = loadIORedis('express-cache-kit --redis') as typeof IORedis;
  const client = new RedisClient(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  // The socket error (ECONNREFUSED, ENOTFOUND...) says more than connect()'s "Connection is closed".
  let socketError: unknown;
  client.on('error', (error: unknown) => void (socketError ??= error));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new UnreachableError(`cannot reach Redis at ${url} (${reason(socketError ?? error)})`);
  }
  return client;
}

/** @internal */
export async function redisTarget(url: string, namespace: string): Promise<Target> {
  const client = await connectRedis(url);
  return {
    entries: () => scanRedis(client, namespace),
    async page(pattern, limit, cursor = '0') {
      if (!/^\d+$/.test(cursor)) throw new UsageError(`--cursor expects the number a previous page printed, got "${cursor}"`);
      const listed: ListedEntry[] = [];
      let next = '0';
      // Pages follow SCAN: a page ends after the batch that reaches --limit (so it may hold a few
      // more), and the cursor printed resumes exactly after it.
      for await (const batch of scanRedis(client, namespace, pattern, Math.min(500, limit), (at) => (next = at), cursor)) {
        listed.push(...batch);
        if (listed.length >= limit) break;
      }
      return { entries: listed, cursor: next === '0' ? null : next };
    },
    async urls(keys) {
      const found = new Map<string, string>();
      if (keys.length === 0) return found;
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.getrangeBuffer(namespace + key, 0, META_PREFIX_BYTES - 1);
      const replies = (await pipeline.exec()) ?? [];
      keys.forEach((key, i) => {
        const prefix = replies[i]?.[1];
        if (!Buffer.isBuffer(prefix)) return;
        const url = formatSource(peekSource(prefix).source);
        if (url !== undefined) found.set(key, url);
      });
      return found;
    },
    async tags() {
      let tags = 0;
      let cursor = '0';
      // Tag indexes live inside the namespace (RedisStore.claimNamespace): `<ns>__tag__:<ns><tag>`.
      const match = `${client.options.keyPrefix ?? ''}${namespace}__tag__:${namespace}*`.replace(/[[\]?\\]/g, '\\$&');
      do {
        const [next, found] = await client.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        tags += found.length;
      } while (cursor !== '0');
      return tags;
    },
    async inspect(key) {
      const [bytes, ttl] = await Promise.all([client.getBuffer(namespace + key), client.pttl(namespace + key)]);
      return inspectBytes(key, bytes, ttl);
    },
    async invalidate(what) {
      const store = new RedisStore({ url, operationTimeoutMs: 10_000 });
      if (!(await store.ready(5_000))) {
        await store.close();
        throw new UnreachableError(`cannot reach Redis at ${url} (${reason(store.lastConnectionError)})`);
      }
      return invalidateWith(store, namespace, what);
    },
    async close() {
      client.disconnect();
    },
  };
}

// ------------------------------------------------------------------------------------------
// PostgreSQL and SQLite: the store's own table, read with plain queries.

interface SqlRows {
  /** Live rows whose key is after `after` and starts with `prefix`, by key: key, bytes, ttl. */
  rows(prefix: string, after: string, limit: number): Promise<Array<{ key: string; bytes: number; ttlMs: number }>>;
  prefixes(keys: readonly string[]): Promise<Array<{ key: string; prefix: Buffer }>>;
  value(key: string): Promise<{ bytes: Buffer; ttlMs: number } | undefined>;
  tags(prefix: string): Promise<number>;
  store(): Store;
  end(): Promise<void>;
}

const SQL_BATCH = 1_000;

function sqlTarget(sql: SqlRows, namespace: string, what: string): Target {
  const entriesFrom = async function* (after: string): AsyncGenerator<ListedEntry[]> {
    let last = after;
    for (;;) {
      const rows = await sql.rows(namespace, last, SQL_BATCH);
      if (rows.length === 0) return;
      last = (rows[rows.length - 1] as { key: string }).key;
      const listed = rows.map((row) => ({ ...row, key: row.key.slice(namespace.length) })).filter((row) => !isInternalKey(row.key));
      if (listed.length > 0) yield listed;
      if (rows.length < SQL_BATCH) return;
    }
  };
  return {
    entries: () => entriesFrom(''),
    async page(pattern, limit, cursor) {
      const matcher = globToRegExp(pattern);
      const listed: ListedEntry[] = [];
      // Keyset pages: the cursor is the last key shown, so entries written or removed between
      // pages never shift what the next page shows.
      for await (const batch of entriesFrom(cursor === undefined ? '' : namespace + cursor)) {
        for (const entry of batch) {
          if (!matcher.test(entry.key)) continue;
          listed.push(entry);
          if (listed.length > limit) return { entries: listed.slice(0, limit), cursor: (listed[limit - 1] as ListedEntry).key };
        }
      }
      return { entries: listed, cursor: null };
    },
    async urls(keys) {
      const found = new Map<string, string>();
      for (const { key, prefix } of await sql.prefixes(keys.map((key) => namespace + key))) {
        const url = formatSource(peekSource(prefix).source);
        if (url !== undefined) found.set(key.slice(namespace.length), url);
      }
      return found;
    },
    tags: () => sql.tags(namespace),
    async inspect(key) {
      const found = await sql.value(namespace + key);
      return inspectBytes(key, found?.bytes, found?.ttlMs ?? -1);
    },
    async invalidate(spec) {
      const store = sql.store();
      const ready = (store as { ready?: (timeoutMs?: number) => Promise<boolean | void> }).ready;
      // `false` (or, from a store whose ready() still throws, a rejection): not usable.
      const usable = ready === undefined ? true : await ready.call(store, 5_000).catch((error: unknown) => error);
      if (usable === false || usable instanceof Error) {
        const error = usable instanceof Error ? usable : (store as { lastConnectionError?: Error }).lastConnectionError;
        await store.close();
        throw new UnreachableError(`cannot use ${what} (${reason(error)})`);
      }
      return invalidateWith(store, namespace, spec);
    },
    close: () => sql.end(),
  };
}

interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** @internal */
export async function postgresTarget(url: string, table: string, namespace: string): Promise<Target> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Pool } = loadPeer('express-cache-kit --postgres', 'pg', () => require('pg') as { Pool: new (config: Record<string, unknown>) => PgPoolLike });
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 3_000 });
  pool.on('error', () => undefined);
  const where = `PostgreSQL ${redactUrl(url)} (table ${table})`;
  try {
    await pool.query(`SELECT 1 FROM ${table} LIMIT 0`);
  } catch (error) {
    await pool.end().catch(() => undefined);
    if ((error as { code?: string }).code === '42P01') throw new UsageError(`no table ${table} in ${redactUrl(url)}: pass the store's table with --table`);
    throw new UnreachableError(`cannot reach ${where} (${reason(error)})`);
  }
  const ttl = `floor(extract(epoch FROM expires_at - now()) * 1000)::bigint`;
  return sqlTarget(
    {
      async rows(prefix, after, limit) {
        const { rows } = await pool.query(
          `SELECT cache_key, octet_length(cache_value) AS bytes, ${ttl} AS ttl_ms FROM ${table} WHERE expires_at > now() AND cache_key > $1 AND cache_key LIKE $2 ESCAPE '\\' ORDER BY cache_key LIMIT $3`,
          [after, `${escapeLike(prefix)}%`, limit],
        );
        return rows.map((row) => ({ key: String(row.cache_key), bytes: Number(row.bytes), ttlMs: Number(row.ttl_ms) }));
      },
      async prefixes(keys) {
        if (keys.length === 0) return [];
        const { rows } = await pool.query(`SELECT cache_key, substring(cache_value FROM 1 FOR ${META_PREFIX_BYTES}) AS prefix FROM ${table} WHERE cache_key = ANY($1)`, [keys]);
        return rows.map((row) => ({ key: String(row.cache_key), prefix: row.prefix as Buffer }));
      },
      async value(key) {
        const { rows } = await pool.query(`SELECT cache_value, ${ttl} AS ttl_ms FROM ${table} WHERE cache_key = $1 AND expires_at > now()`, [key]);
        const row = rows[0];
        return row === undefined ? undefined : { bytes: row.cache_value as Buffer, ttlMs: Number(row.ttl_ms) };
      },
      async tags(prefix) {
        const { rows } = await pool.query(`SELECT count(DISTINCT tag)::int AS n FROM ${table}_tags WHERE tag LIKE $1 ESCAPE '\\'`, [`${escapeLike(prefix)}%`]);
        return Number(rows[0]?.n ?? 0);
      },
      store: () => new PostgresStore({ connectionString: url, table, createTable: false, pruneIntervalMs: 0, operationTimeoutMs: 10_000 }),
      end: () => pool.end(),
    },
    namespace,
    where,
  );
}

/** @internal */
export async function sqliteTarget(file: string, table: string, namespace: string): Promise<Target> {
  if (!existsSync(file)) throw new UsageError(`no SQLite database at ${file}: pass the file the app's SqliteStore uses ({ path })`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = loadPeer('express-cache-kit --sqlite', 'better-sqlite3', () => require('better-sqlite3') as new (file: string, options?: BetterSqlite3.Options) => BetterSqlite3.Database, 'npm install better-sqlite3@12');
  let db: BetterSqlite3.Database;
  try {
    // Read-only: looking never writes, and never takes the app's write lock.
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare(`SELECT 1 FROM ${table} LIMIT 0`).all();
  } catch (error) {
    throw new UsageError(`cannot read ${table} in SQLite database ${file} (${reason(error)}): pass the store's table with --table`);
  }
  const open = db;
  return sqlTarget(
    {
      async rows(prefix, after, limit) {
        const now = Date.now();
        const rows = open
          .prepare(`SELECT cache_key, length(cache_value) AS bytes, expires_at - ? AS ttl_ms FROM ${table} WHERE expires_at > ? AND cache_key > ? AND substr(cache_key, 1, ?) = ? ORDER BY cache_key LIMIT ?`)
          .all(now, now, after, prefix.length, prefix, limit) as Array<{ cache_key: string; bytes: number; ttl_ms: number }>;
        return rows.map((row) => ({ key: row.cache_key, bytes: Number(row.bytes), ttlMs: Number(row.ttl_ms) }));
      },
      async prefixes(keys) {
        if (keys.length === 0) return [];
        const rows = open.prepare(`SELECT cache_key, substr(cache_value, 1, ${META_PREFIX_BYTES}) AS prefix FROM ${table} WHERE cache_key IN (SELECT value FROM json_each(?))`).all(JSON.stringify(keys)) as Array<{ cache_key: string; prefix: Buffer }>;
        return rows.map((row) => ({ key: row.cache_key, prefix: row.prefix }));
      },
      async value(key) {
        const now = Date.now();
        const row = open.prepare(`SELECT cache_value, expires_at - ? AS ttl_ms FROM ${table} WHERE cache_key = ? AND expires_at > ?`).get(now, key, now) as { cache_value: Buffer; ttl_ms: number } | undefined;
        return row === undefined ? undefined : { bytes: row.cache_value, ttlMs: Number(row.ttl_ms) };
      },
      async tags(prefix) {
        const row = open.prepare(`SELECT count(DISTINCT tag) AS n FROM ${table}_tags WHERE substr(tag, 1, ?) = ?`).get(prefix.length, prefix) as { n: number } | undefined;
        return Number(row?.n ?? 0);
      },
      store: () => new SqliteStore({ path: file, table, createTable: false, pruneIntervalMs: 0 }),
      async end() {
        open.close();
      },
    },
    namespace,
    `SQLite ${file} (table ${table})`,
  );
}

// ------------------------------------------------------------------------------------------
// A running app's dashboard (the memory store lives in the app's process).

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** @internal */
export function statsUrlTarget(statsUrl: string, headers: Record<string, string>): Target {
  let parsed: URL;
  try {
    parsed = new URL(statsUrl);
  } catch {
    throw new UsageError(`--stats-url expects the dashboard's stats.json URL, e.g. http://127.0.0.1:3000/_cache/stats.json, got "${statsUrl}"`);
  }
  const auth = { ...headers };
  // fetch refuses URLs carrying credentials: they become HTTP Basic.
  if (parsed.username !== '' || parsed.password !== '') {
    auth.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  const base = parsed.toString().replace(/\/stats\.json$/, '').replace(/\/$/, '');
  const shown = redactUrl(statsUrl);
  const call = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { ...init, headers: { accept: 'application/json', ...auth, ...(init.headers as Record<string, string> | undefined) }, signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new UnreachableError(`cannot reach ${shown} (${reason(error)})`);
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 401 || res.status === 403) {
      throw new UsageError(`${base}${path} answered ${res.status}${typeof body.error === 'string' ? ` (${body.error})` : ''}: pass the dashboard's token with --token (or CACHE_DASHBOARD_TOKEN), Basic credentials in the URL, or --header`);
    }
    return { status: res.status, body };
  };
  const page = async (pattern: string, limit: number, cursor: string | undefined): Promise<{ entries: Array<ListedEntry & { url?: string }>; cursor: string | null }> => {
    const query = new URLSearchParams({ pattern, limit: String(Math.min(limit, 1_000)) });
    if (cursor !== undefined) query.set('cursor', cursor);
    const { status, body } = await call(`/entries.json?${query}`);
    if (status !== 200) throw new UsageError(`${base}/entries.json answered ${status}${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
    return { entries: body.entries as Array<ListedEntry & { url?: string }>, cursor: (body.cursor as string | null) ?? null };
  };
  // URLs come with the listing itself: remembered here so urls() costs no second request.
  const known = new Map<string, string>();
  const remember = (entries: Array<ListedEntry & { url?: string }>): ListedEntry[] =>
    entries.map(({ url, ...entry }) => {
      if (url !== undefined) known.set(entry.key, url);
      return { key: entry.key, bytes: entry.bytes, ttlMs: entry.ttlMs };
    });
  return {
    async *entries() {
      let cursor: string | undefined;
      do {
        const next = await page('*', 1_000, cursor);
        if (next.entries.length > 0) yield remember(next.entries);
        cursor = next.cursor ?? undefined;
      } while (cursor !== undefined);
    },
    async page(pattern, limit, cursor) {
      const next = await page(pattern, limit, cursor);
      return { entries: remember(next.entries), cursor: next.cursor };
    },
    async urls(keys) {
      return new Map(keys.flatMap((key) => (known.has(key) ? [[key, known.get(key) as string] as const] : [])));
    },
    async tags() {
      return null;
    },
    async inspect(key) {
      const { status, body } = await call(`/entry.json?key=${encodeURIComponent(key)}`);
      if (status === 404) return undefined;
      if (status !== 200) throw new UsageError(`${base}/entry.json answered ${status}${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
      return { view: body as unknown as EntryView };
    },
    async invalidate(what) {
      const payload = 'pattern' in what ? { kind: 'pattern', value: what.pattern } : 'scope' in what ? { kind: 'scope', value: what.scope, id: what.id } : undefined;
      const specs = payload !== undefined ? [payload] : (what as { tags: string[] }).tags.map((tag) => ({ kind: 'tag', value: tag }));
      let count = 0;
      for (const spec of specs) {
        // JSON with no Origin: the dashboard accepts it from non-browser clients only.
        const { status, body } = await call('/invalidate', { method: 'POST', body: JSON.stringify(spec), headers: { 'content-type': 'application/json' } });
        if (status !== 200) throw new UsageError(`${base}/invalidate answered ${status}${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
        count += Number(body.count ?? 0);
      }
      return count;
    },
    async close() {},
  };
}
