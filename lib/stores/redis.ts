import type * as IORedis from 'ioredis';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { CacheError, StoreClosedError, StoreError, StoreTimeoutError } from '../errors';
import { escapeGlob } from '../keys';
import { type RedisStoreOptions, resolveRedisStoreOptions } from '../options';
import type { Store } from './store';

type Client = Redis | Cluster;

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
    enableAutoPipelining: true,
    // Never give up reconnecting: the cache must come back by itself when Redis does.
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 2_000),
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
 * @example
 * ```ts
 * const store = new RedisStore({ url: process.env.REDIS_URL });
 * await store.ready();
 * configureCache({ store, namespace: 'myapp' });
 * ```
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  /** The ioredis client in use. */
  readonly client: Client;
  private readonly ownsClient: boolean;
  private readonly timeoutMs: number;
  private readonly scanCount: number;
  private readonly keyPrefix: string;
  // A standalone client we built already bounds every command with `commandTimeout`; a Cluster
  // or a caller's client may not, so those get our own timer around each call.
  private readonly needsOwnTimer: boolean;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    const resolved = resolveRedisStoreOptions(options);
    this.timeoutMs = resolved.operationTimeoutMs;
    this.scanCount = resolved.scanCount;
    if (resolved.client) {
      this.client = resolved.client;
      this.ownsClient = false;
    } else {
      // Loaded lazily so ioredis stays an optional peer for users of MemoryStore only.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Redis: RedisClient } = require('ioredis') as typeof IORedis;
      this.client = new RedisClient(resolved.url as string, { ...cacheClientOptions(this.timeoutMs), ...resolved.redisOptions });
      // Failures surface through rejected commands; without a listener ioredis would print each one.
      this.client.on('error', () => undefined);
      this.ownsClient = true;
    }
    const prefix = isCluster(this.client) ? this.client.options.redisOptions?.keyPrefix : this.client.options.keyPrefix;
    this.keyPrefix = prefix ?? '';
    const commandTimeout = isCluster(this.client) ? undefined : this.client.options.commandTimeout;
    this.needsOwnTimer = commandTimeout === undefined || commandTimeout > this.timeoutMs;
  }

  /**
   * Resolves once the client is connected and ready, or rejects after `timeoutMs`. Until then
   * commands fail fast (there is no offline queue), which the cache treats as misses.
   */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new StoreTimeoutError('ready', timeoutMs));
      }, timeoutMs);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
      };
      this.client.on('ready', onReady);
    });
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
    if (/timed? ?out/i.test(message)) return new StoreTimeoutError(operation, this.timeoutMs);
    return new StoreError(operation, `redis ${operation} failed: ${message}`, { cause: err });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.run('get', () => this.client.getBuffer(key));
    return value ?? undefined;
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.run('set', () => this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run('delete', () => this.client.unlink(key))) > 0;
  }

  async deletePattern(pattern: string): Promise<number> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    // SCAN matches raw keys, so the client's keyPrefix must be in the pattern; UNLINK adds the
    // prefix itself, so it must come off the keys SCAN returns.
    const match = escapeGlob(this.keyPrefix) + pattern;
    let removed = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.run('deletePattern', () => node.scan(cursor, 'MATCH', match, 'COUNT', this.scanCount));
        cursor = next;
        if (keys.length > 0) {
          removed += await this.unlink(node, keys.map((key) => key.slice(this.keyPrefix.length)));
        }
      } while (cursor !== '0');
    }
    return removed;
  }

  private async unlink(node: Redis, keys: string[]): Promise<number> {
    if (!isCluster(this.client)) return this.run('deletePattern', () => node.unlink(...keys));
    // In a cluster a multi-key UNLINK fails with CROSSSLOT unless every key shares a slot.
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.unlink(key);
    const results = await this.run('deletePattern', () => pipeline.exec());
    return (results ?? []).reduce((sum, [err, count]) => sum + (err ? 0 : Number(count)), 0);
  }

  async clear(): Promise<void> {
    await this.deletePattern('*');
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
