import { createHash } from 'node:crypto';
import type * as IORedis from 'ioredis';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { CacheError, IncompleteDeleteError, StoreClosedError, StoreError, StoreTimeoutError, loadPeer } from '../errors';
import { escapeGlob } from '../keys';
import { type RedisStoreOptions, resolveRedisStoreOptions } from './redis-options';
import { randomUUID } from 'node:crypto';
import type { GuardCapable, MarkedValue, RateLimits, SoftCapable, Store } from './store';

type Client = Redis | Cluster;

/**
 * Tag indexes share the keyspace with entries, under this reserved prefix (after the client's
 * keyPrefix and the cache's namespace, before the tag, which carries the namespace again).
 * `deletePattern` skips it, so a pattern over a namespace never removes its indexes.
 */
const TAG_INDEX_PREFIX = '__tag__:';

interface LuaScript {
  lua: string;
  sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// SET + SADD to each index + extend each index to outlive its longest member, in one atomic step:
// an entry is never visible without being reachable from its tags. Members are raw key names
// (with the client's keyPrefix), because UNLINK inside a script sees raw names. Each write also
// drops up to two sampled members whose entries are gone (expired or deleted), which keeps an
// index that keeps gaining new keys near its live size instead of growing until it expires.
const SET_TAGGED = script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[i], 2)) do
    if redis.call('EXISTS', member) == 0 then redis.call('SREM', KEYS[i], member) end
  end
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1`);

// Pops up to ARGV[1] members of one index and unlinks them in the same atomic step, so a member
// never leaves the index while its entry survives. Redis deletes the set with its last member.
const POP_TAGGED = script(`
local members = redis.call('SPOP', KEYS[1], ARGV[1])
local removed = 0
for i = 1, #members, 500 do
  removed = removed + redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
return {removed, #members}`);
// Deletes the lock only while it still holds our token, so a holder whose lock expired cannot
// release the next holder's lock.
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

// Spacing and fixed-window count in one atomic step, on the server's clock so instances with
// skewed clocks agree. KEYS: last-call key, window key. ARGV: minIntervalMs, maxPerWindow, windowMs.
const CONSUME_RATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minInterval, maxPerWindow, windowMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if minInterval > 0 then
  local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if last >= 0 and now - last < minInterval then return minInterval - (now - last) end
end
if maxPerWindow > 0 then
  local count = tonumber(redis.call('GET', KEYS[2]) or '0')
  if count >= maxPerWindow then
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl > 0 then return ttl end
    return 1
  end
end
if minInterval > 0 then redis.call('SET', KEYS[1], now, 'PX', minInterval) end
if maxPerWindow > 0 then
  if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], windowMs) end
end
return 0`;

/**
 * Invalidation stamps (the cross-process write guard) live under this reserved prefix, after the
 * client's keyPrefix and the namespace: one small string per stamped name holding the time of
 * the invalidation.
 */
const STAMP_PREFIX = '__inv__:';

/**
 * Soft marks: `<namespace>__soft__:{<raw key>}`, or `<namespace>__soft__:{<its hash tag>}<raw key>`
 * for a key with a hash tag of its own. Either way the mark hashes like the entry, so on a
 * Cluster it lives in the entry's slot and one MGET reads both.
 */
const SOFT_PREFIX = '__soft__:';

/** Limiter counters: `<namespace>{__rate__:<name>}:last` and `:window` (see `consumeRate`). */
const RATE_PREFIX = '{__rate__:';

// The guarded write: refuse when any stamp (KEYS[2 .. n+1]) is later than ARGV[3], else the
// same steps as SET_TAGGED, all in one atomic step. ARGV: value, ttl, sinceMs, n.
const SET_GUARDED = script(`
local n = tonumber(ARGV[4])
if n > 0 then
  local since = tonumber(ARGV[3])
  for _, at in ipairs(redis.call('MGET', unpack(KEYS, 2, n + 1))) do
    if at and tonumber(at) > since then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = n + 2, #KEYS do
  for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[i], 2)) do
    if redis.call('EXISTS', member) == 0 then redis.call('SREM', KEYS[i], member) end
  end
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1`);

// The raw name of a raw key's soft mark, in the key's Cluster slot: the key's own hash tag
// when it has one (then the whole raw name follows, to stay unique), else the raw name as the
// tag. Mirrors RedisStore.softKey.
const MARK_NAME_LUA = `
local function markName(prefix, raw)
  local open = string.find(raw, '{', 1, true)
  if open then
    local close = string.find(raw, '}', open + 1, true)
    if close and close > open + 1 then
      return prefix .. '${SOFT_PREFIX}{' .. string.sub(raw, open + 1, close - 1) .. '}' .. raw
    end
  end
  return prefix .. '${SOFT_PREFIX}{' .. raw .. '}'
end`;

// Soft-marks raw keys (ARGV[3..]) as of ARGV[1]; each mark expires with its entry, so a mark
// never outlives what it marks. ARGV[2] is what goes before the mark's name: the client's
// keyPrefix and the keys' namespace (raw names already carry both).
const MARK_KEYS = script(`${MARK_NAME_LUA}
local marked = 0
for i = 3, #ARGV do
  local ttl = redis.call('PTTL', ARGV[i])
  if ttl > 0 then
    redis.call('SET', markName(ARGV[2], ARGV[i]), ARGV[1], 'PX', ttl)
    marked = marked + 1
  end
end
return marked`);

// One SSCAN batch of a tag index, soft-marked in the same step. ARGV: cursor, count, atMs, and the
// marks' prefix (keyPrefix and the tag's namespace).
const MARK_TAGGED = script(`${MARK_NAME_LUA}
local reply = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local marked = 0
for _, member in ipairs(reply[2]) do
  local ttl = redis.call('PTTL', member)
  if ttl > 0 then
    redis.call('SET', markName(ARGV[4], member), ARGV[3], 'PX', ttl)
    marked = marked + 1
  end
end
return {reply[1], marked}`);

/** What Redis Cluster hashes a key by: its hash tag when it has one, else the whole name. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * ioredis, loaded on first use so it stays an optional peer for users of the other stores; a
 * missing package is a `MissingPeerError` naming it, not a raw `MODULE_NOT_FOUND`.
 * @internal
 */
export function loadIORedis(feature: string): typeof IORedis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadPeer(feature, 'ioredis', () => require('ioredis') as typeof IORedis);
}

function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * Client options for connections this store creates itself. ioredis' defaults queue commands
 * while disconnected and retry them for seconds; a cache must answer "miss" instead, quickly.
 */
function cacheClientOptions(timeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
    connectTimeout: 2_000,
    // disconnect() on a connection that already failed arms a destroy timer nothing clears; the
    // default (2 s) would hold the process open that long after close().
    disconnectTimeout: 200,
    enableAutoPipelining: true,
    // Never give up reconnecting: the cache must come back by itself when Redis does, and soon
    // (a reconnect attempt on a dead loopback port costs next to nothing; 2 s between attempts
    // would delay recovery by up to 2 s).
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 250),
  };
}

/**
 * A store on Redis (or Valkey, Dragonfly) through ioredis. Pass a `Redis` or `Cluster` you
 * created (it is yours to close), or a `url` and the store creates a client with cache-safe
 * settings: no offline queue, one retry, short command timeout, auto-pipelining.
 *
 * Writes are one `SET key value PX ttl`. Pattern deletes walk the keyspace with `SCAN` (every
 * master of a cluster) and remove matches with pipelined `UNLINK`, never with a blocking scan.
 *
 * Tags: each tag is a SET of raw key names at `<namespace>__tag__:<tag>` (after the client's
 * keyPrefix; every internal key lies inside the namespace of the cache that uses it, see
 * {@link RedisStore.claimNamespace}, so a Redis ACL limited to `~ns:*` suffices).
 * A tagged write is one Lua script (SET, SADD, extend the index TTL to cover its longest
 * member); invalidating a tag pops and unlinks its members in atomic batches of `scanCount`, so
 * the cost follows the tagged entries and Redis is never blocked for long. On a `Cluster`,
 * members live in other slots, so the cluster path uses no scripts: indexes are written before
 * the entry (an entry is never unreachable from its tags) and members are unlinked one by one.
 *
 * Soft invalidation ({@link SoftCapable}): a mark `<namespace>__soft__:{<raw key>}` holds the time of the
 * invalidation and expires with its entry; reads are one `MGET key mark` (the braces put the
 * mark in the entry's Cluster slot). Marking is one script per batch (standalone) or two
 * pipelined round trips per batch (Cluster); bodies are never read or rewritten.
 *
 * Write guard ({@link GuardCapable}): stamps are small strings under `<namespace>__inv__:`; a guarded write
 * is one script that checks them and writes (standalone), or check, write, re-check and delete
 * on a Cluster. Entry patterns never match tag indexes, stamps or marks.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url: process.env.REDIS_URL });
 * await store.ready();
 * configureCache({ store, namespace: 'myapp' });
 * ```
 */
export class RedisStore implements Store, GuardCapable, SoftCapable {
  readonly name = 'redis';
  /** The ioredis client in use. */
  readonly client: Client;
  private readonly ownsClient: boolean;
  private readonly timeoutMs: number;
  private readonly scanCount: number;
  private readonly scanRetries: number;
  private readonly keyPrefix: string;
  // A standalone client we built already bounds every command with `commandTimeout`; a Cluster
  // or a caller's client may not, so those get our own timer around each call.
  private readonly needsOwnTimer: boolean;
  private closed = false;
  private connectionError: Error | undefined;
  // The namespaces of the caches using this store, longest first (see claimNamespace).
  private namespaces: string[] = [];

  constructor(options: RedisStoreOptions) {
    const resolved = resolveRedisStoreOptions(options);
    this.timeoutMs = resolved.operationTimeoutMs;
    this.scanCount = resolved.scanCount;
    this.scanRetries = resolved.scanRetries;
    if (resolved.client) {
      this.client = resolved.client;
      this.ownsClient = false;
    } else {
      const { Redis: RedisClient } = loadIORedis('RedisStore');
      this.client = new RedisClient(resolved.url as string, { ...cacheClientOptions(this.timeoutMs), ...resolved.redisOptions });
      // Failures surface through rejected commands; without a listener ioredis would print each
      // one. The last one is kept: a command refused while disconnected only says "Stream isn't
      // writeable", the connection error says why (ECONNREFUSED, ENOTFOUND, a TLS mismatch).
      this.client.on('error', (error: Error) => {
        this.connectionError = error;
      });
      this.ownsClient = true;
    }
    // A Cluster applies its top-level keyPrefix (ioredis copies redisOptions.keyPrefix there when
    // only that one is set).
    const prefix = isCluster(this.client) ? (this.client.options.keyPrefix ?? this.client.options.redisOptions?.keyPrefix) : this.client.options.keyPrefix;
    this.keyPrefix = prefix ?? '';
    const commandTimeout = isCluster(this.client) ? undefined : this.client.options.commandTimeout;
    this.needsOwnTimer = commandTimeout === undefined || commandTimeout > this.timeoutMs;
  }

  /**
   * Resolves `true` once the client is connected and ready, or `false` when `timeoutMs` passes
   * first (then {@link RedisStore.lastConnectionError} says why). It never rejects because Redis
   * is unreachable: until Redis answers, commands fail fast (there is no offline queue), the
   * cache answers from the origin, and the client keeps reconnecting in the background.
   *
   * @example
   * ```ts
   * const store = new RedisStore({ url: process.env.REDIS_URL });
   * if (!(await store.ready(2_000))) console.warn('Redis not reachable yet, serving from the origin:', store.lastConnectionError?.message);
   * ```
   */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    if (this.closed) return false;
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      // Never the reason the process stays alive.
      timer.unref();
      this.client.on('ready', onReady);
    });
  }

  /**
   * The last error of the connection this store created (connection refused, unknown host, TLS
   * against a plain server...), with its `code` (e.g. `ECONNREFUSED`); `undefined` when none was
   * seen. Errors the store reports while disconnected carry it as `cause`. A client you passed
   * in is not listened to: its errors are yours.
   */
  get lastConnectionError(): Error | undefined {
    return this.connectionError;
  }

  private async run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('RedisStore');
    if (!this.needsOwnTimer) {
      try {
        return await command();
      } catch (err) {
        throw this.wrapError(operation, err);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        command(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreTimeoutError(operation, this.timeoutMs)), this.timeoutMs);
        }),
      ]);
    } catch (err) {
      throw this.wrapError(operation, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private wrapError(operation: string, err: unknown): CacheError {
    if (err instanceof CacheError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const connection = this.client.status === 'ready' ? undefined : this.connectionError;
    if (/timed? ?out/i.test(message)) return new StoreTimeoutError(operation, this.timeoutMs, connection);
    if (connection !== undefined) {
      // The command only failed because there is no connection: the connection error is the cause.
      const code = (connection as NodeJS.ErrnoException).code;
      return new StoreError(operation, `redis ${operation} failed: ${message} (not connected: ${connection.message}${code ? `, ${code}` : ''})`, { cause: connection });
    }
    return new StoreError(operation, `redis ${operation} failed: ${message}`, { cause: err });
  }

  /** The operation timeout, for what shares the client (the bus's publishes). @internal */
  get operationTimeoutMs(): number {
    return this.timeoutMs;
  }

  /**
   * Places the store's own keys for names in `namespace` (tag indexes, invalidation stamps, soft
   * marks) inside that namespace: `<namespace>__tag__:<tag>` rather than `__tag__:<tag>`, so a
   * Redis user limited to `~<namespace>*` can use every feature. `createCache` calls it with the
   * cache's namespace; names outside every claimed namespace keep the bare prefixes.
   * @internal
   */
  claimNamespace(namespace: string): void {
    if (namespace === '' || this.namespaces.includes(namespace)) return;
    this.namespaces = [...this.namespaces, namespace].sort((a, b) => b.length - a.length);
  }

  /** The claimed namespace `name` lies in, or `''`. */
  private home(name: string): string {
    for (const namespace of this.namespaces) if (name.startsWith(namespace)) return namespace;
    return '';
  }

  /** The index key of a tag (as passed to the client). */
  private tagIndex(tag: string): string {
    return this.home(tag) + TAG_INDEX_PREFIX + tag;
  }

  /** The key of a stamp name (`k:`, `t:` or `p:` and a full name). */
  private stampKey(name: string): string {
    return this.home(name.slice(2)) + STAMP_PREFIX + name;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.run('get', () => this.client.getBuffer(key));
    return value ?? undefined;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    if (tags === undefined || tags.length === 0) {
      await this.run('set', () => this.client.set(key, value, 'PX', ttl));
      return;
    }
    const indexes = [...new Set(tags)].map((tag) => this.tagIndex(tag));
    if (!isCluster(this.client)) {
      await this.run('set', () => this.evalScript(SET_TAGGED, [key, ...indexes], [value, ttl]));
      return;
    }
    const cluster = this.client;
    const member = this.keyPrefix + key;
    // One MULTI per index (a single key, so a single slot): SADD and the TTL change must not be
    // split, or an index about to expire can vanish between them, taking the new member along.
    // NX then GT leave max(current, ttl) however concurrent writers interleave.
    await this.run('set', () =>
      Promise.all(indexes.map((index) => cluster.multi().sadd(index, member).pexpire(index, ttl, 'NX').pexpire(index, ttl, 'GT').exec())),
    );
    await this.run('set', () => cluster.set(key, value, 'PX', ttl));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run('delete', () => this.client.unlink(key))) > 0;
  }

  async deletePattern(pattern: string): Promise<number> {
    return this.scanDelete(pattern, false);
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    let removed = 0;
    for (const tag of new Set(tags)) removed += await this.popIndex(this.tagIndex(tag));
    return removed;
  }

  async deleteTagPattern(pattern: string): Promise<number> {
    return this.scanEach('deleteTagPattern', this.tagIndex(pattern), async (_node, indexes) => {
      let removed = 0;
      for (const index of indexes) removed += await this.popIndex(index.slice(this.keyPrefix.length));
      return removed;
    });
  }

  /** Empties one tag index batch by batch, unlinking its members; resolves with entries removed. */
  private async popIndex(index: string): Promise<number> {
    let removed = 0;
    let popped: number;
    do {
      if (!isCluster(this.client)) {
        // Each pop is atomic (SPOP and UNLINK in one script), so a retried one never loses members.
        const reply = (await this.retried(() => this.run('deleteTags', () => this.evalScript(POP_TAGGED, [index], [this.scanCount])))) as [number, number];
        removed += reply[0];
        popped = reply[1];
      } else {
        const cluster = this.client;
        const members = await this.run('deleteTags', () => cluster.spop(index, this.scanCount));
        popped = members.length;
        // Members sit in any slot: one UNLINK each, routed by the cluster client.
        const counts = await this.run('deleteTags', () => Promise.all(members.map((member) => cluster.unlink(member.slice(this.keyPrefix.length)))));
        removed += counts.reduce((sum, count) => sum + count, 0);
      }
    } while (popped >= this.scanCount);
    return removed;
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet. */
  private async evalScript(lua: LuaScript, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    const client = this.client as Redis;
    try {
      return await client.evalsha(lua.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(lua.lua, keys.length, ...keys, ...args);
    }
  }

  private async scanDelete(pattern: string, includeIndexes: boolean): Promise<number> {
    return this.scanEach('deletePattern', pattern, (node, keys) => {
      // A pattern like `*` must not drop tag indexes: their entries would become unreachable.
      const entries = includeIndexes ? keys : keys.filter((key) => !this.isReserved(key));
      return entries.length > 0 ? this.unlink(node, entries) : Promise.resolve(0);
    });
  }

  /**
   * Walks every master with `SCAN MATCH pattern` in batches of `scanCount` and hands each batch
   * of raw key names (keyPrefix included) to `onBatch`; resolves with the sum of its counts.
   * SCAN matches raw keys, so the client's keyPrefix is put in front of the pattern here. Each
   * step is retried (`scanRetries`) before the walk gives up with an `IncompleteDeleteError`
   * saying how far it got.
   */
  private async scanEach(operation: string, pattern: string, onBatch: (node: Redis, rawKeys: string[]) => Promise<number>): Promise<number> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    const match = escapeGlob(this.keyPrefix) + pattern;
    let total = 0;
    for (const [done, node] of nodes.entries()) {
      let cursor = '0';
      try {
        do {
          const [next, keys] = await this.retried(() => this.run(operation, () => node.scan(cursor, 'MATCH', match, 'COUNT', this.scanCount)));
          if (keys.length > 0) total += await this.retried(() => onBatch(node, keys));
          cursor = next;
        } while (cursor !== '0');
      } catch (error) {
        if (error instanceof StoreClosedError) throw error;
        const where = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
        throw new IncompleteDeleteError(operation, { pattern, removed: total, cursor, node: where, nodesDone: done, nodes: nodes.length }, error);
      }
    }
    return total;
  }

  /** Runs one idempotent step, retrying it with a doubling backoff (50 ms, 100 ms, ...). */
  private async retried<T>(step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (attempt >= this.scanRetries || error instanceof StoreClosedError) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }

  /** Unlinks raw key names (as SCAN returned them) on the node that holds them. */
  private async unlink(node: Redis, rawKeys: string[]): Promise<number> {
    // The node adds its own keyPrefix to what it sends; a cluster node may have none even when
    // the Cluster has one, so strip exactly the node's.
    const nodePrefixLength = (node.options.keyPrefix ?? '').length;
    const keys = rawKeys.map((key) => key.slice(nodePrefixLength));
    if (!isCluster(this.client)) return this.run('deletePattern', () => node.unlink(...keys));
    // In a cluster a multi-key UNLINK fails with CROSSSLOT unless every key shares a slot.
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.unlink(key);
    const results = await this.run('deletePattern', () => pipeline.exec());
    return (results ?? []).reduce((sum, [err, count]) => sum + (err ? 0 : Number(count)), 0);
  }

  async clear(): Promise<void> {
    await this.scanDelete('*', true);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const reply = await this.run('acquireLock', () => this.client.set(key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    return reply === 'OK' ? token : undefined;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.run('releaseLock', () => this.client.eval(RELEASE_LOCK, 1, key, token));
  }

  async consumeRate(key: string, limits: RateLimits): Promise<number> {
    // One hash tag for both keys keeps them in one cluster slot, as a script requires; the
    // namespace stays in front of it, so the keys lie inside the namespace like every other.
    const home = this.home(key);
    const base = key.slice(home.length).replace(/[{}]/g, '_');
    const reply = await this.run('consumeRate', () =>
      this.client.eval(CONSUME_RATE, 2, `${home}{${base}}:last`, `${home}{${base}}:window`, limits.minIntervalMs, limits.maxPerWindow, limits.windowMs),
    );
    return Number(reply);
  }

  // ---------------------------------------------------------------------------------------------
  // Soft invalidation and the invalidation stamps (GuardCapable, SoftCapable).

  /**
   * Whether a raw key is a tag index, a stamp, a soft mark or a limiter counter: never an entry, never matched by
   * entry patterns. (A mark left behind by a pattern delete expires with the entry it marked and
   * never touches a newer write of the key.)
   */
  private isReserved(rawKey: string): boolean {
    const start = this.keyPrefix.length;
    const at = start + this.home(rawKey.slice(start)).length;
    return rawKey.startsWith(TAG_INDEX_PREFIX, at) || rawKey.startsWith(STAMP_PREFIX, at) || rawKey.startsWith(SOFT_PREFIX, at) || rawKey.startsWith(RATE_PREFIX, at);
  }

  /** The soft mark of `key` (as passed to the client, which adds the keyPrefix in front). */
  private softKey(key: string): string {
    const raw = this.keyPrefix + key;
    const tag = hashTagOf(raw);
    const prefix = this.home(key) + SOFT_PREFIX;
    // A key with a hash tag of its own: the mark takes the same tag, then the raw name.
    return tag === raw ? `${prefix}{${raw}}` : `${prefix}{${tag}}${raw}`;
  }

  /**
   * One round trip: `MGET key mark`. On a Cluster the mark shares the entry's slot through its
   * hash tag (the key's own, when it has one); only a raw key with a stray `}` and no valid hash
   * tag has its mark in another slot, and is read with two parallel GETs.
   */
  async getWithMark(key: string): Promise<MarkedValue | undefined> {
    const mark = this.softKey(key);
    const client = this.client;
    const together = !isCluster(client) || hashTagOf(this.keyPrefix + key) === hashTagOf(this.keyPrefix + mark);
    const [value, at] = await this.run('get', () =>
      together ? client.mgetBuffer(key, mark) : Promise.all([client.getBuffer(key), client.getBuffer(mark)]),
    );
    if (value === null || value === undefined) return undefined;
    return { value, softAt: at === null || at === undefined ? undefined : Number(at.toString()) };
  }

  async softDelete(key: string, atMs: number): Promise<boolean> {
    return (await this.markRaw([this.keyPrefix + key], atMs, 'softDelete')) > 0;
  }

  async softDeletePattern(pattern: string, atMs: number): Promise<number> {
    return this.scanEach('softDeletePattern', pattern, (_node, keys) => {
      const entries = keys.filter((key) => !this.isReserved(key));
      return entries.length > 0 ? this.markRaw(entries, atMs, 'softDeletePattern') : Promise.resolve(0);
    });
  }

  async softDeleteTags(tags: readonly string[], atMs: number): Promise<number> {
    let marked = 0;
    for (const tag of new Set(tags)) marked += await this.markIndex(this.tagIndex(tag), this.home(tag), atMs);
    return marked;
  }

  async softDeleteTagPattern(pattern: string, atMs: number): Promise<number> {
    const home = this.home(pattern);
    return this.scanEach('softDeleteTagPattern', this.tagIndex(pattern), async (_node, indexes) => {
      let marked = 0;
      for (const index of indexes) marked += await this.markIndex(index.slice(this.keyPrefix.length), home, atMs);
      return marked;
    });
  }

  /** Marks every member of one tag index, one SSCAN batch (of `scanCount`) per round trip. */
  private async markIndex(index: string, home: string, atMs: number): Promise<number> {
    let cursor = '0';
    let marked = 0;
    do {
      if (!isCluster(this.client)) {
        const reply = (await this.run('softDeleteTags', () => this.evalScript(MARK_TAGGED, [index], [cursor, this.scanCount, String(atMs), this.keyPrefix + home]))) as [string, number];
        cursor = reply[0];
        marked += reply[1];
      } else {
        const cluster = this.client;
        const [next, members] = await this.run('softDeleteTags', () => cluster.sscan(index, cursor, 'COUNT', this.scanCount));
        cursor = next;
        marked += await this.markRaw(members, atMs, 'softDeleteTags');
      }
    } while (cursor !== '0');
    return marked;
  }

  /**
   * Soft-marks raw keys (keyPrefix included). Standalone: one script. Cluster: the keys sit in
   * many slots, so no script: their PTTLs in parallel, then each mark in parallel (two round
   * trips per batch). A mark expires with its entry either way.
   */
  private async markRaw(rawKeys: readonly string[], atMs: number, operation: string): Promise<number> {
    if (rawKeys.length === 0) return 0;
    if (!isCluster(this.client)) {
      // One script per namespace the keys lie in (nearly always one).
      const byHome = new Map<string, string[]>();
      for (const raw of rawKeys) {
        const home = this.home(raw.slice(this.keyPrefix.length));
        byHome.set(home, [...(byHome.get(home) ?? []), raw]);
      }
      let marked = 0;
      for (const [home, raws] of byHome) marked += Number(await this.run(operation, () => this.evalScript(MARK_KEYS, [], [String(atMs), this.keyPrefix + home, ...raws])));
      return marked;
    }
    const cluster = this.client;
    const keys = rawKeys.map((raw) => raw.slice(this.keyPrefix.length));
    const ttls = await this.run(operation, () => Promise.all(keys.map((key) => cluster.pttl(key))));
    const live = keys.flatMap((key, i) => ((ttls[i] ?? 0) > 0 ? [{ key, ttl: ttls[i] as number }] : []));
    await this.run(operation, () => Promise.all(live.map(({ key, ttl }) => cluster.set(this.softKey(key), String(atMs), 'PX', ttl))));
    return live.length;
  }

  async stampInvalidations(names: readonly string[], atMs: number, ttlMs: number): Promise<void> {
    if (names.length === 0) return;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const client = this.client;
    await this.run('stampInvalidations', () => Promise.all(names.map((name) => client.set(this.stampKey(name), String(atMs), 'PX', ttl))));
  }

  /**
   * Standalone: one script checks the stamps and writes (with the tag indexes) atomically. Cluster:
   * stamps, entry and indexes sit in different slots, so it checks, writes, checks again, and
   * deletes the entry when an invalidation stamped in between (the invalidation stamps before it
   * deletes, so either the second check sees it or its delete comes after this write).
   */
  async setUnlessInvalidated(key: string, value: Buffer, ttlMs: number, tags: readonly string[] | undefined, names: readonly string[], sinceMs: number): Promise<boolean> {
    const stampKeys = names.map((name) => this.stampKey(name));
    const client = this.client;
    if (!isCluster(client)) {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      const indexes = [...new Set(tags ?? [])].map((tag) => this.tagIndex(tag));
      const written = await this.run('set', () => this.evalScript(SET_GUARDED, [key, ...stampKeys, ...indexes], [value, ttl, String(sinceMs), stampKeys.length]));
      return Number(written) === 1;
    }
    const stamped = async (): Promise<boolean> => {
      const stamps = await this.run('set', () => Promise.all(stampKeys.map((stampKey) => client.get(stampKey))));
      return stamps.some((at) => at !== null && Number(at) > sinceMs);
    };
    if (await stamped()) return false;
    await this.set(key, value, ttlMs, tags);
    if (await stamped()) {
      await this.run('delete', () => client.unlink(key));
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) return;
    // QUIT only makes sense on a live connection; otherwise stop the reconnect loop at once.
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await Promise.race([this.client.quit(), new Promise((resolve) => setTimeout(resolve, this.timeoutMs).unref())]);
    } catch {
      // quit fails when the connection is already gone; nothing is left to release but the socket.
    }
    this.client.disconnect();
  }
}
