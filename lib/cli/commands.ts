import { parseArgs } from 'node:util';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import { createCache } from '../compose';
import { normaliseNamespace } from '../keys';
import { endpointOfKey } from '../metrics/endpoint';
import { type ListedEntry, scanRedis } from '../metrics/inventory';
import { type Entry, decodeEntry } from '../serializer';
import { RedisStore } from '../stores/redis';
import { formatBytes, formatMs, table } from './table';

/** Where the CLI writes. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Exit codes: 0 done, 1 usage or not found, 2 server unreachable. */
export const EXIT = Object.freeze({ ok: 0, usage: 1, unreachable: 2 });

const USAGE = `Usage: express-cache-kit <command> [options]

Commands:
  stats                       entries, bytes and TTL spread per endpoint, tags count
  keys [pattern]              keys (Redis glob, namespace-free) with size and TTL, SCAN-based
  inspect <key>               the decoded entry: status, headers, age, size, body or value
  invalidate --pattern <glob> | --tag <tag> | --scope <scope> [--id <id>]
  watch --url <stats.json>    live hits/misses per endpoint from a running app's dashboard

Options:
  --redis <url>               the Redis holding the cache (required except for watch)
  --namespace <ns>            the cache's namespace (createCache({ namespace }))
  --json                      machine-readable output
  --limit <n>                 keys: keys per page (default 100)
  --cursor <n>                keys: the page to show, as printed by the previous one
  --interval <s>              watch: seconds between polls (default 2)
  --count <n>                 watch: stop after n polls (default: until interrupted)
  --header <name: value>      watch: a request header (repeatable), e.g. for authorization
  -h, --help                  this text
`;

class UsageError extends Error {}
class UnreachableError extends Error {}

type Values = {
  redis?: string;
  namespace?: string;
  json?: boolean;
  limit?: string;
  cursor?: string;
  pattern?: string;
  tag?: string[];
  scope?: string;
  id?: string;
  url?: string;
  interval?: string;
  count?: string;
  header?: string[];
  help?: boolean;
  postgres?: string;
  sqlite?: string;
};

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} expects a positive number, got "${raw}"`);
  return n;
}

/** JSON that survives what the serializer can store (BigInt, Map, Set, Buffer). */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return `<Buffer ${Buffer.from((v as { data: number[] }).data).toString('base64')}>`;
      }
      return v;
    },
    indent,
  );
}

async function connect(url: string): Promise<Redis> {
  // Loaded lazily: ioredis is an optional peer.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Redis: RedisClient } = require('ioredis') as typeof IORedis;
  const client = new RedisClient(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  // The socket error (ECONNREFUSED, ENOTFOUND...) says more than connect()'s "Connection is closed".
  let socketError: unknown;
  client.on('error', (error: unknown) => void (socketError ??= error));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const cause = socketError ?? error;
    const reason = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
    throw new UnreachableError(`cannot reach Redis at ${url} (${reason})`);
  }
  return client;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves the exit code: 0 done,
 * 1 usage error or nothing found, 2 server unreachable (with one line on `err`).
 *
 * @example
 * ```ts
 * const code = await runCli(['stats', '--redis', 'redis://127.0.0.1:6380'], { out: console.log, err: console.error });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliOutput): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        redis: { type: 'string' },
        postgres: { type: 'string' },
        sqlite: { type: 'string' },
        namespace: { type: 'string' },
        json: { type: 'boolean' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        pattern: { type: 'string' },
        tag: { type: 'string', multiple: true },
        scope: { type: 'string' },
        id: { type: 'string' },
        url: { type: 'string' },
        interval: { type: 'string' },
        count: { type: 'string' },
        header: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    io.err(`express-cache-kit: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? io.err : io.out)(USAGE);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  try {
    if (command === 'watch') return await watch(values, io);
    if (values.postgres !== undefined || values.sqlite !== undefined) {
      throw new UsageError('--postgres and --sqlite are not supported yet: the SQL stores are not part of this version; use --redis');
    }
    if (values.redis === undefined) throw new UsageError(`${command} needs --redis <url>`);
    const namespace = normaliseNamespace(values.namespace);
    switch (command) {
      case 'stats':
        return await withClient(values.redis, (client) => stats(client, namespace, values, io));
      case 'keys':
        return await withClient(values.redis, (client) => keys(client, namespace, rest[0] ?? '*', values, io));
      case 'inspect':
        if (rest[0] === undefined) throw new UsageError('inspect needs a key, e.g. inspect character:char_1');
        return await withClient(values.redis, (client) => inspect(client, namespace, rest[0] as string, values, io));
      case 'invalidate':
        return await invalidate(values.redis, values, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`express-cache-kit: ${error.message}\n(run express-cache-kit --help)\n`);
      return EXIT.usage;
    }
    if (error instanceof UnreachableError) {
      io.err(`express-cache-kit: ${error.message}\n`);
      return EXIT.unreachable;
    }
    throw error;
  }
}

async function withClient(url: string, run: (client: Redis) => Promise<number>): Promise<number> {
  const client = await connect(url);
  try {
    return await run(client);
  } finally {
    client.disconnect();
  }
}

interface EndpointSummary {
  endpoint: string;
  entries: number;
  bytes: number;
  ttlMinMs: number;
  ttlMedianMs: number;
  ttlMaxMs: number;
}

async function stats(client: Redis, namespace: string, values: Values, io: CliOutput): Promise<number> {
  const byEndpoint = new Map<string, ListedEntry[]>();
  for await (const batch of scanRedis(client, namespace)) {
    for (const entry of batch) {
      const endpoint = endpointOfKey(entry.key);
      let list = byEndpoint.get(endpoint);
      if (list === undefined) byEndpoint.set(endpoint, (list = []));
      list.push(entry);
    }
  }
  let tags = 0;
  let cursor = '0';
  // Tag indexes live inside the namespace (RedisStore.claimNamespace): `<ns>__tag__:<ns><tag>`.
  const tagMatch = `${client.options.keyPrefix ?? ''}${namespace}__tag__:${namespace}*`.replace(/[[\]?\\]/g, '\\$&');
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', tagMatch, 'COUNT', 500);
    cursor = next;
    tags += found.length;
  } while (cursor !== '0');
  const endpoints: EndpointSummary[] = [...byEndpoint].map(([endpoint, list]) => {
    const ttls = list.map((e) => e.ttlMs).sort((a, b) => a - b);
    return {
      endpoint,
      entries: list.length,
      bytes: list.reduce((sum, e) => sum + e.bytes, 0),
      ttlMinMs: ttls[0] ?? 0,
      ttlMedianMs: ttls[Math.floor(ttls.length / 2)] ?? 0,
      ttlMaxMs: ttls[ttls.length - 1] ?? 0,
    };
  });
  endpoints.sort((a, b) => b.bytes - a.bytes || a.endpoint.localeCompare(b.endpoint));
  const entries = endpoints.reduce((sum, e) => sum + e.entries, 0);
  const bytes = endpoints.reduce((sum, e) => sum + e.bytes, 0);
  if (values.json) {
    io.out(`${toJson({ namespace, entries, bytes, tags, endpoints })}\n`);
    return EXIT.ok;
  }
  io.out(`${entries} entries, ${formatBytes(bytes)}, ${tags} tags${namespace ? ` in namespace ${namespace}` : ''}\n\n`);
  io.out(
    table(
      ['endpoint', 'entries', 'bytes', 'ttl min', 'ttl median', 'ttl max'],
      endpoints.map((e) => [e.endpoint, String(e.entries), formatBytes(e.bytes), formatMs(e.ttlMinMs), formatMs(e.ttlMedianMs), formatMs(e.ttlMaxMs)]),
    ),
  );
  return EXIT.ok;
}

async function keys(client: Redis, namespace: string, pattern: string, values: Values, io: CliOutput): Promise<number> {
  const limit = positive('limit', values.limit, 100);
  const start = values.cursor ?? '0';
  if (!/^\d+$/.test(start)) throw new UsageError(`--cursor expects the number a previous page printed, got "${start}"`);
  const listed: ListedEntry[] = [];
  let cursor = '0';
  // Pages follow SCAN: a page ends after the batch that reaches --limit (so it may hold a few
  // more), and the cursor printed resumes exactly after it.
  for await (const batch of scanRedis(client, namespace, pattern, Math.min(500, limit), (next) => (cursor = next), start)) {
    listed.push(...batch);
    if (listed.length >= limit) break;
  }
  const shown = listed.sort((a, b) => a.key.localeCompare(b.key));
  const next = cursor === '0' ? null : cursor;
  if (values.json) {
    io.out(`${toJson({ keys: shown, cursor: next })}\n`);
    return EXIT.ok;
  }
  if (shown.length === 0 && next === null) {
    io.out(`no keys match ${pattern}\n`);
    return EXIT.ok;
  }
  io.out(table(['key', 'bytes', 'ttl'], shown.map((e) => [e.key, formatBytes(e.bytes), formatMs(e.ttlMs)])));
  if (next !== null) io.out(`(more keys: add --cursor ${next} for the next page)\n`);
  return EXIT.ok;
}

function describe(entry: Entry, key: string, bytes: number, ttlMs: number): Record<string, unknown> {
  const now = Date.now();
  const common = {
    key,
    kind: entry.kind,
    size: bytes,
    createdAt: new Date(entry.createdAt).toISOString(),
    ageMs: now - entry.createdAt,
    expiresAt: new Date(entry.expiresAt).toISOString(),
    fresh: entry.expiresAt > now,
    storeTtlMs: ttlMs,
  };
  if (entry.kind === 'value') return { ...common, value: entry.value };
  const type = String(entry.headers['content-type'] ?? '');
  let body: unknown = `<${entry.body.length} bytes${entry.bodyEncoding ? `, ${entry.bodyEncoding}` : ''}>`;
  if (!entry.bodyEncoding && /json/.test(type)) {
    try {
      body = JSON.parse(entry.body.toString('utf8'));
    } catch {
      body = entry.body.toString('utf8');
    }
  } else if (!entry.bodyEncoding && /^text\/|xml|javascript/.test(type)) {
    body = entry.body.toString('utf8');
  }
  return { ...common, status: entry.status, headers: entry.headers, bodyBytes: entry.body.length, bodyEncoding: entry.bodyEncoding, body };
}

async function inspect(client: Redis, namespace: string, key: string, values: Values, io: CliOutput): Promise<number> {
  const fullKey = namespace + key;
  const [bytes, ttl] = await Promise.all([client.getBuffer(fullKey), client.pttl(fullKey)]);
  if (bytes === null) {
    io.err(`express-cache-kit: no entry under ${key}${namespace ? ` in namespace ${namespace}` : ''}\n`);
    return EXIT.usage;
  }
  let entry: Entry;
  try {
    entry = decodeEntry(bytes);
  } catch (error) {
    io.err(`express-cache-kit: ${key} holds ${bytes.length} bytes that are not a cache entry (${error instanceof Error ? error.message : String(error)})\n`);
    return EXIT.usage;
  }
  const described = describe(entry, key, bytes.length, ttl);
  if (values.json) {
    io.out(`${toJson(described)}\n`);
    return EXIT.ok;
  }
  const lines: string[][] = [];
  for (const [name, value] of Object.entries(described)) {
    if (value === undefined || name === 'headers' || name === 'body' || name === 'value') continue;
    lines.push([name, name.endsWith('Ms') ? formatMs(Number(value)) : name === 'size' || name === 'bodyBytes' ? formatBytes(Number(value)) : String(value)]);
  }
  io.out(table(['field', 'value'], lines));
  if (entry.kind === 'response') {
    io.out(`\nheaders:\n${Object.entries(entry.headers).map(([n, v]) => `  ${n}: ${Array.isArray(v) ? v.join(', ') : v}`).join('\n')}\n`);
    io.out(`\nbody:\n${typeof described.body === 'string' ? described.body : toJson(described.body, 2)}\n`);
  } else {
    io.out(`\nvalue:\n${toJson(entry.value, 2)}\n`);
  }
  return EXIT.ok;
}

async function invalidate(url: string, values: Values, io: CliOutput): Promise<number> {
  const chosen = [values.pattern !== undefined, values.tag !== undefined, values.scope !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('invalidate needs exactly one of --pattern <glob>, --tag <tag> (repeatable), --scope <scope> [--id <id>]');
  // Check reachability first, so an unreachable server is one line and exit 2, like other commands.
  (await connect(url)).disconnect();
  // The engine's own invalidations: same escaping, same tag indexes, same counts as the app's.
  const store = new RedisStore({ url, operationTimeoutMs: 10_000 });
  const cache = createCache({ store, namespace: values.namespace, breaker: false });
  try {
    await store.ready(5_000);
    let count: number;
    let what: string;
    if (values.pattern !== undefined) {
      count = await cache.invalidatePattern(values.pattern, { strict: true });
      what = `pattern ${values.pattern}`;
    } else if (values.tag !== undefined) {
      count = await cache.invalidateTags(values.tag, { strict: true });
      what = `tag${values.tag.length > 1 ? 's' : ''} ${values.tag.join(', ')}`;
    } else {
      count = await cache.invalidateScope(values.scope as string, values.id, { strict: true });
      what = `scope ${values.scope as string}${values.id === undefined ? '' : `:${values.id}`}`;
    }
    io.out(values.json ? `${toJson({ invalidated: what, count })}\n` : `removed ${count} entr${count === 1 ? 'y' : 'ies'} (${what})\n`);
    return EXIT.ok;
  } finally {
    await cache.close();
  }
}

interface WatchedEndpoint {
  hits: number;
  misses: number;
  stale?: number;
  uncacheable?: number;
  bypassed?: number;
}

async function watch(values: Values, io: CliOutput): Promise<number> {
  if (values.url === undefined) throw new UsageError('watch needs --url http://host/_cache/stats.json (the dashboard JSON of a running app)');
  const url = values.url;
  const intervalMs = positive('interval', values.interval, 2) * 1000;
  const count = values.count === undefined ? Infinity : positive('count', values.count, 1);
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects "name: value", got "${header}"`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  let previous: Record<string, WatchedEndpoint> | undefined;
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.message : String(error));
      throw new UnreachableError(`cannot reach ${url} (${cause})`);
    }
    if (!res.ok) throw new UsageError(`${url} answered ${res.status}${res.status === 403 ? ': pass what authorize() expects with --header' : ''}`);
    const body = (await res.json()) as { stats?: { endpoints?: Record<string, WatchedEndpoint> } };
    const endpoints = body.stats?.endpoints ?? {};
    const rows = Object.entries(endpoints).map(([name, now]) => {
      const before = previous?.[name];
      const hits = now.hits - (before?.hits ?? 0);
      const misses = now.misses - (before?.misses ?? 0);
      return { endpoint: name, hits, misses, stale: (now.stale ?? 0) - (before?.stale ?? 0), uncacheable: (now.uncacheable ?? 0) - (before?.uncacheable ?? 0), bypassed: (now.bypassed ?? 0) - (before?.bypassed ?? 0), hitRate: hits + misses === 0 ? 0 : hits / (hits + misses) };
    });
    previous = endpoints;
    if (values.json) {
      io.out(`${toJson({ at: new Date().toISOString(), since: i === 0 ? 'start' : 'last poll', endpoints: rows })}\n`);
    } else {
      io.out(`${new Date().toISOString()} (${i === 0 ? 'since start' : `last ${intervalMs / 1000}s`})\n`);
      io.out(table(['endpoint', 'hits', 'misses', 'stale', 'uncacheable', 'bypassed', 'hit rate'], rows.map((r) => [r.endpoint, String(r.hits), String(r.misses), String(r.stale), String(r.uncacheable), String(r.bypassed), `${(r.hitRate * 100).toFixed(1)}%`])));
      io.out('\n');
    }
  }
  return EXIT.ok;
}
