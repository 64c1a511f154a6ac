import { randomBytes } from 'node:crypto';
import type * as IORedis from 'ioredis';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/**
 * The ioredis major the tests run on: 5 (the `ioredis` devDependency) unless `IOREDIS_MAJOR=6`
 * selects the `ioredis6` alias (`npm:ioredis@^6`). Both share one API; 6 speaks RESP3 by default.
 */
export const IOREDIS_MAJOR = process.env.IOREDIS_MAJOR === '6' ? 6 : 5;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ioredis = (IOREDIS_MAJOR === 6 ? require('ioredis6') : require('ioredis')) as typeof IORedis;

/** A `Redis` client of the selected major. */
export function newRedis(url: string, options: RedisOptions = {}): Redis {
  return new ioredis.Redis(url, options);
}

/** A `Cluster` client of the selected major. */
export function newCluster(nodes: Array<{ host: string; port: number }>, options: ClusterOptions = {}): Cluster {
  return new ioredis.Cluster(nodes, options);
}

/** The URL of the run's shared redis-server (started by the Jest global setup). */
export function testRedisUrl(): string {
  const url = process.env.CACHE_KIT_TEST_REDIS_URL;
  if (!url) throw new Error('CACHE_KIT_TEST_REDIS_URL is not set: run the tests through `npm test`');
  return url;
}

/**
 * A client on the shared test server whose keys live under a prefix unique to this call, so
 * test files running in parallel never see each other's keys (and `clear()` stays inside it).
 */
export function testRedisClient(extra: { keyPrefix?: string } = {}): Redis {
  const keyPrefix = extra.keyPrefix ?? `test:${randomBytes(4).toString('hex')}:`;
  return newRedis(testRedisUrl(), {
    keyPrefix,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
}
