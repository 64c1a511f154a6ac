import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

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
  return new Redis(testRedisUrl(), {
    keyPrefix,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
}
