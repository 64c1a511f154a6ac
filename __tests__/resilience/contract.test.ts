import { MemoryStore, RedisStore, type Store, canDeletePattern, canDeleteTags, canLock, canRateLimit } from '../../lib';
import { ResilientStore, type ResilienceSettings } from '../../lib/resilience/resilient-store';
import { runStoreContract } from '../../lib/testing';
import { testRedisClient } from '../helpers/redis';
import type { Redis } from 'ioredis';
import { ALL_CAPABILITIES, JEST } from '../stores/contract-api';

const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => undefined)));
});
function redisClient(): Redis {
  const client = testRedisClient();
  clients.push(client);
  return client;
}

const SETTINGS: ResilienceSettings = {
  failureThreshold: 5,
  coolDownMs: 500,
  probeIntervalMs: 50,
  journalLimit: 100,
  fallbackMode: 'outage',
  probeKey: '__probe__',
  namespace: '',
};

const silent = { error: () => undefined, degraded: () => undefined, recovered: () => undefined };

/** A store with the core only, to check the wrapper adds no capability its primary lacks. */
class CoreOnly implements Store {
  readonly name = 'core-only';
  private readonly inner = new MemoryStore();
  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    return this.inner.set(key, value, ttlMs, tags);
  }
  delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

runStoreContract(JEST, 'breaker wrapper over MemoryStore, no fallback', async () => new ResilientStore(new MemoryStore(), undefined, SETTINGS, silent), {
  capabilities: ALL_CAPABILITIES,
});
runStoreContract(JEST, 'breaker wrapper over MemoryStore, outage fallback', async () => new ResilientStore(new MemoryStore(), new MemoryStore(), SETTINGS, silent), {
  capabilities: ALL_CAPABILITIES,
});
runStoreContract(
  JEST,
  'breaker wrapper over MemoryStore, mirror fallback',
  async () => new ResilientStore(new MemoryStore(), new MemoryStore(), { ...SETTINGS, fallbackMode: 'mirror' }, silent),
  { capabilities: ALL_CAPABILITIES },
);
runStoreContract(
  JEST,
  'breaker wrapper over RedisStore, mirror MemoryStore fallback',
  async () => new ResilientStore(new RedisStore({ client: redisClient(), operationTimeoutMs: 2_000 }), new MemoryStore(), { ...SETTINGS, fallbackMode: 'mirror' }, silent),
  { capabilities: ALL_CAPABILITIES },
);
runStoreContract(JEST, 'breaker wrapper over a core-only store, MemoryStore fallback', async () => new ResilientStore(new CoreOnly(), new MemoryStore(), SETTINGS, silent), {
  capabilities: [],
});

test('the wrapper exposes exactly the capabilities of its primary, whatever the fallback has', () => {
  const core = new ResilientStore(new CoreOnly(), new MemoryStore(), SETTINGS, silent);
  expect([canDeletePattern(core), canDeleteTags(core), canLock(core), canRateLimit(core)]).toEqual([false, false, false, false]);
  const full = new ResilientStore(new MemoryStore(), new CoreOnly(), SETTINGS, silent);
  expect([canDeletePattern(full), canDeleteTags(full), canLock(full), canRateLimit(full)]).toEqual([true, true, true, true]);
});
