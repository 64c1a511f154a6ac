import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { normaliseNamespace } from '../keys';
import { endpointOfKey } from '../metrics/endpoint';
import type { ListedEntry } from '../metrics/inventory';
import { formatBytes, formatMs, table } from './table';
import { type Invalidation, type Target, UnreachableError, UsageError, postgresTarget, redisTarget, sqliteTarget, statsUrlTarget } from './targets';

/** Where the CLI writes. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Exit codes: 0 done, 1 usage or not found, 2 server unreachable. */
export const EXIT = Object.freeze({ ok: 0, usage: 1, unreachable: 2 });

const USAGE = `Usage: express-cache-kit <command> [target] [options]

Commands:
  stats                       entries, bytes and TTL spread per endpoint, tags count
  keys [pattern]              keys (Redis glob, namespace-free) with the URL each answers, size and TTL
  inspect <key>               the decoded entry: URL, status, headers, age, size, body or value
  invalidate --pattern <glob> | --tag <tag> | --scope <scope> [--id <id>]
  watch --url <stats.json>    live hits/misses per endpoint from a running app's dashboard

Target (one of; the first given wins):
  --redis <url>               the Redis holding the cache            (default: $REDIS_URL)
  --postgres <url>            the PostgreSQL database of a PostgresStore (default: $DATABASE_URL
                              when it is a postgres:// URL)
  --sqlite <file>             the SQLite file of a SqliteStore       (default: $DATABASE_URL when
                              it is sqlite:<file> or file:<file>)
  --stats-url <url>           a running app's dashboard (…/_cache/stats.json): for the memory
                              store, which lives in the app's process
  With no flag, REDIS_URL is used before DATABASE_URL.

Options:
  --namespace <ns>            the cache's namespace (createCache({ namespace }))
  --table <name>              --postgres/--sqlite: the store's table (default cache_entries)
  --token <token>             --stats-url/watch: the dashboard's token (default: $CACHE_DASHBOARD_TOKEN)
  --header <name: value>      --stats-url/watch: a request header (repeatable)
  --json                      machine-readable output
  --limit <n>                 keys: keys per page (default 100)
  --cursor <c>                keys: the page to show, as printed by the previous one
  --interval <s>              watch: seconds between polls (default 2)
  --count <n>                 watch: stop after n polls (default: until interrupted)
  -v, --version               the version
  -h, --help                  this text
`;

type Values = {
  redis?: string;
  postgres?: string;
  sqlite?: string;
  'stats-url'?: string;
  table?: string;
  token?: string;
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
  version?: boolean;
};

/** The environment the CLI reads its defaults from. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

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

/** This package's version, from its package.json (one level above lib/ and dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

function headersOf(values: Values, env: CliEnv): Record<string, string> {
  const headers: Record<string, string> = {};
  const token = values.token ?? env.CACHE_DASHBOARD_TOKEN;
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects "name: value", got "${header}"`);
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
  }
  return headers;
}

/** The target the flags name, else the one the environment names. */
async function openTarget(command: string, values: Values, env: CliEnv): Promise<Target> {
  const namespace = normaliseNamespace(values.namespace);
  const table = values.table ?? 'cache_entries';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new UsageError(`--table expects a plain SQL table name, got "${table}"`);
  const given = [values.redis, values.postgres, values.sqlite, values['stats-url']].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError('pass one target: --redis, --postgres, --sqlite or --stats-url');
  if (values.redis !== undefined) return redisTarget(values.redis, namespace);
  if (values.postgres !== undefined) return postgresTarget(values.postgres, table, namespace);
  if (values.sqlite !== undefined) return sqliteTarget(values.sqlite, table, namespace);
  if (values['stats-url'] !== undefined) return statsUrlTarget(values['stats-url'], headersOf(values, env));
  if (env.REDIS_URL) return redisTarget(env.REDIS_URL, namespace);
  const database = env.DATABASE_URL;
  if (database && /^postgres(?:ql)?:\/\//.test(database)) return postgresTarget(database, table, namespace);
  if (database && /^(?:sqlite|file):/.test(database)) return sqliteTarget(database.replace(/^(?:sqlite|file):(?:\/\/)?/, ''), table, namespace);
  throw new UsageError(`${command} needs a target: --redis <url>, --postgres <url>, --sqlite <file> or --stats-url <url> (or REDIS_URL / DATABASE_URL in the environment)`);
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves the exit code: 0 done,
 * 1 usage error or nothing found, 2 server unreachable (with one line on `err`). Targets not
 * given as flags come from `env` (`REDIS_URL`, `DATABASE_URL`, `CACHE_DASHBOARD_TOKEN`).
 *
 * @example
 * ```ts
 * const code = await runCli(['stats', '--redis', 'redis://127.0.0.1:6380'], { out: console.log, err: console.error });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliOutput, env: CliEnv = process.env): Promise<number> {
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
        'stats-url': { type: 'string' },
        table: { type: 'string' },
        token: { type: 'string' },
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
        version: { type: 'boolean', short: 'v' },
      },
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    io.err(`express-cache-kit: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const [command, ...rest] = positionals;
  if (values.version || command === 'version') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? io.err : io.out)(USAGE);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  try {
    if (command === 'watch') return await watch(values, env, io);
    if (!['stats', 'keys', 'inspect', 'invalidate'].includes(command)) throw new UsageError(`unknown command "${command}"`);
    if (command === 'inspect' && rest[0] === undefined) throw new UsageError('inspect needs a key, e.g. inspect character:char_1');
    const what = command === 'invalidate' ? invalidation(values) : undefined;
    const target = await openTarget(command, values, env);
    try {
      switch (command) {
        case 'stats':
          return await stats(target, normaliseNamespace(values.namespace), values, io);
        case 'keys':
          return await keys(target, rest[0] ?? '*', values, io);
        case 'inspect':
          return await inspect(target, normaliseNamespace(values.namespace), rest[0] as string, values, io);
        default:
          return await invalidate(target, what as { spec: Invalidation; label: string }, values, io);
      }
    } finally {
      await target.close();
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

interface EndpointSummary {
  endpoint: string;
  entries: number;
  bytes: number;
  ttlMinMs: number;
  ttlMedianMs: number;
  ttlMaxMs: number;
}

async function stats(target: Target, namespace: string, values: Values, io: CliOutput): Promise<number> {
  const byEndpoint = new Map<string, ListedEntry[]>();
  for await (const batch of target.entries()) {
    for (const entry of batch) {
      const endpoint = endpointOfKey(entry.key);
      let list = byEndpoint.get(endpoint);
      if (list === undefined) byEndpoint.set(endpoint, (list = []));
      list.push(entry);
    }
  }
  const tags = await target.tags();
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
  io.out(`${entries} entries, ${formatBytes(bytes)}${tags === null ? '' : `, ${tags} tags`}${namespace ? ` in namespace ${namespace}` : ''}\n\n`);
  io.out(
    table(
      ['endpoint', 'entries', 'bytes', 'ttl min', 'ttl median', 'ttl max'],
      endpoints.map((e) => [e.endpoint, String(e.entries), formatBytes(e.bytes), formatMs(e.ttlMinMs), formatMs(e.ttlMedianMs), formatMs(e.ttlMaxMs)]),
    ),
  );
  return EXIT.ok;
}

async function keys(target: Target, pattern: string, values: Values, io: CliOutput): Promise<number> {
  const limit = positive('limit', values.limit, 100);
  const { entries, cursor: next } = await target.page(pattern, limit, values.cursor);
  const urls = await target.urls(entries.map((e) => e.key));
  const shown = entries.sort((a, b) => a.key.localeCompare(b.key)).map((e) => (urls.has(e.key) ? { ...e, url: urls.get(e.key) } : e));
  if (values.json) {
    io.out(`${toJson({ keys: shown, cursor: next })}\n`);
    return EXIT.ok;
  }
  if (shown.length === 0 && next === null) {
    io.out(`no keys match ${pattern}\n`);
    return EXIT.ok;
  }
  io.out(table(['key', 'url', 'bytes', 'ttl'], shown.map((e) => [e.key, (e as { url?: string }).url ?? '-', formatBytes(e.bytes), formatMs(e.ttlMs)])));
  if (next !== null) io.out(`(more keys: add --cursor ${next} for the next page)\n`);
  return EXIT.ok;
}

async function inspect(target: Target, namespace: string, key: string, values: Values, io: CliOutput): Promise<number> {
  const found = await target.inspect(key);
  if (found === undefined) {
    io.err(`express-cache-kit: no entry under ${key}${namespace ? ` in namespace ${namespace}` : ''}\n`);
    return EXIT.usage;
  }
  if ('corrupt' in found) {
    io.err(`express-cache-kit: ${key} holds ${found.bytes} bytes that are not a cache entry (${found.corrupt})\n`);
    return EXIT.usage;
  }
  const described = found.view;
  if (values.json) {
    io.out(`${toJson(described)}\n`);
    return EXIT.ok;
  }
  const lines: string[][] = [];
  for (const [name, value] of Object.entries(described)) {
    if (value === undefined || name === 'headers' || name === 'body' || name === 'value' || name === 'source') continue;
    lines.push([name, name.endsWith('Ms') ? formatMs(Number(value)) : name === 'size' || name === 'bodyBytes' ? formatBytes(Number(value)) : String(value)]);
  }
  io.out(table(['field', 'value'], lines));
  if (described.kind === 'response') {
    io.out(`\nheaders:\n${Object.entries(described.headers ?? {}).map(([n, v]) => `  ${n}: ${Array.isArray(v) ? v.join(', ') : v}`).join('\n')}\n`);
    io.out(`\nbody:\n${typeof described.body === 'string' ? described.body : toJson(described.body, 2)}\n`);
  } else {
    io.out(`\nvalue:\n${toJson(described.value, 2)}\n`);
  }
  return EXIT.ok;
}

function invalidation(values: Values): { spec: Invalidation; label: string } {
  const chosen = [values.pattern !== undefined, values.tag !== undefined, values.scope !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('invalidate needs exactly one of --pattern <glob>, --tag <tag> (repeatable), --scope <scope> [--id <id>]');
  if (values.pattern !== undefined) return { spec: { pattern: values.pattern }, label: `pattern ${values.pattern}` };
  if (values.tag !== undefined) return { spec: { tags: values.tag }, label: `tag${values.tag.length > 1 ? 's' : ''} ${values.tag.join(', ')}` };
  const scope = values.scope as string;
  return { spec: values.id === undefined ? { scope } : { scope, id: values.id }, label: `scope ${scope}${values.id === undefined ? '' : `:${values.id}`}` };
}

async function invalidate(target: Target, what: { spec: Invalidation; label: string }, values: Values, io: CliOutput): Promise<number> {
  const count = await target.invalidate(what.spec);
  io.out(values.json ? `${toJson({ invalidated: what.label, count })}\n` : `removed ${count} entr${count === 1 ? 'y' : 'ies'} (${what.label})\n`);
  return EXIT.ok;
}

interface WatchedEndpoint {
  hits: number;
  misses: number;
  stale?: number;
  uncacheable?: number;
  bypassed?: number;
}

async function watch(values: Values, env: CliEnv, io: CliOutput): Promise<number> {
  if (values.url === undefined) throw new UsageError('watch needs --url http://host/_cache/stats.json (the dashboard JSON of a running app)');
  const url = values.url;
  const intervalMs = positive('interval', values.interval, 2) * 1000;
  const count = values.count === undefined ? Infinity : positive('count', values.count, 1);
  const headers = headersOf(values, env);
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
    if (!res.ok) throw new UsageError(`${url} answered ${res.status}${res.status === 401 || res.status === 403 ? ": pass the dashboard's token with --token (or CACHE_DASHBOARD_TOKEN), or what authorize() expects with --header" : ''}`);
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
