import type { Cluster, Redis } from 'ioredis';
import { escapeGlob } from '../keys';
import type { Store } from '../stores/store';
import { storeLayers } from './instrumented-store';

/** One stored entry as inspection views list it. */
export interface ListedEntry {
  /** The key without the namespace. */
  key: string;
  /** Size of the stored bytes. */
  bytes: number;
  /** Milliseconds until the store drops it (TTL plus any stale grace); -1 when it has none. */
  ttlMs: number;
}

/** A store that can list its entries (MemoryStore). */
interface Listable {
  listEntries(limit: number): Array<{ key: string; bytes: number; ttlMs: number }>;
}

type Client = Redis | Cluster;

function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true;
}

// Every name the library keeps beside entries starts with a reserved `__word__` segment: tag
// indexes, invalidation stamps, soft marks, fill locks, limiters (`{__rate__:name}:last` on
// Redis), Vary records, the breaker's probe. None of them is an entry, whatever comes next.
const RESERVED = /^\{?__[a-z0-9]+__(?:[:}]|$)/;

/**
 * Whether `key` (without the namespace, or a raw name without the client's keyPrefix) is one
 * of the library's own bookkeeping names rather than an entry: `__tag__:…`, `__inv__:…`,
 * `__soft__:{…}`, `__lock__:…`, `{__rate__:…}:last`, `__variants__:…`, `__probe__`.
 *
 * @example
 * ```ts
 * isInternalKey('__inv__:api:users:*'); // true
 * isInternalKey('character:char_1'); // false
 * ```
 */
export function isInternalKey(key: string): boolean {
  return RESERVED.test(key);
}

/**
 * Walks the keys of `namespace` matching `pattern` (a Redis glob, namespace-free) with `SCAN`
 * on every master (never the blocking KEYS command), and yields batches of entries with their size and TTL (one
 * pipelined `PTTL` + `STRLEN` per batch). Skips locks, limiters and tag indexes. On a
 * standalone server `onCursor` hears the SCAN cursor after each batch, and `startCursor`
 * resumes a walk from one ('0' when the walk is complete).
 * @internal
 */
export async function* scanRedis(
  client: Client,
  namespace: string,
  pattern = '*',
  batch = 500,
  onCursor?: (cursor: string) => void,
  startCursor = '0',
): AsyncGenerator<ListedEntry[]> {
  const prefix = (isCluster(client) ? client.options.keyPrefix : client.options.keyPrefix) ?? '';
  const match = `${escapeGlob(prefix)}${escapeGlob(namespace)}${pattern}`;
  const nodes: Redis[] = isCluster(client) ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = nodes.length === 1 ? startCursor : '0';
    do {
      const [next, rawKeys] = await node.scan(cursor, 'MATCH', match, 'COUNT', batch);
      cursor = next;
      // Where a later walk of a standalone server can resume (the CLI's pages).
      onCursor?.(cursor);
      const keys = rawKeys.filter((raw) => !RESERVED.test(raw.slice(prefix.length + namespace.length)) && !RESERVED.test(raw.slice(prefix.length)));
      if (keys.length === 0) continue;
      const pipeline = node.pipeline();
      // SCAN answers raw names, and the node's client puts its own keyPrefix before every name
      // it is given: it is taken off first, or PTTL and STRLEN would read names that do not exist.
      const own = node.options.keyPrefix ?? '';
      for (const raw of keys) {
        const name = raw.startsWith(own) ? raw.slice(own.length) : raw;
        pipeline.call('PTTL', name).call('STRLEN', name);
      }
      const replies = (await pipeline.exec()) ?? [];
      const listed: ListedEntry[] = [];
      keys.forEach((raw, i) => {
        const ttl = Number(replies[2 * i]?.[1] ?? -1);
        // -2: gone between SCAN and PTTL.
        if (ttl === -2) return;
        listed.push({ key: raw.slice(prefix.length + namespace.length), bytes: Number(replies[2 * i + 1]?.[1] ?? 0), ttlMs: ttl });
      });
      if (listed.length > 0) yield listed;
    } while (cursor !== '0');
  }
}

/**
 * Up to `limit` entries of `store` (seen through the cache's wrappers), namespace-free, or
 * `undefined` when the store cannot list them. Redis is walked with `SCAN` (bounded by `limit`).
 *
 * @example
 * ```ts
 * const entries = await listEntries(cache.store, cache.namespacePrefix, 1000);
 * ```
 */
export async function listEntries(store: Store, namespace: string, limit: number): Promise<ListedEntry[] | undefined> {
  for (const layer of storeLayers(store)) {
    const record = layer as unknown as Partial<Listable> & { client?: Client; name: string };
    if (typeof record.listEntries === 'function') {
      return record
        .listEntries(Number.MAX_SAFE_INTEGER)
        .filter(({ key }) => key.startsWith(namespace) && !RESERVED.test(key.slice(namespace.length)))
        .slice(0, limit)
        .map((entry) => ({ ...entry, key: entry.key.slice(namespace.length) }));
    }
    if (record.name === 'redis' && record.client !== undefined && typeof record.client.scan === 'function') {
      const listed: ListedEntry[] = [];
      for await (const batch of scanRedis(record.client, namespace)) {
        listed.push(...batch);
        if (listed.length >= limit) return listed.slice(0, limit);
      }
      return listed;
    }
  }
  return undefined;
}
