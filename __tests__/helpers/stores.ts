import type { Redis } from 'ioredis';
import { type FullStore, MemoryStore, RedisStore } from '../../lib';
import { testRedisClient } from './redis';

/** A named way to build a fresh store, so suites can run once per store. */
export interface StoreKind {
  name: string;
  make(): FullStore;
}

const clients: Redis[] = [];

/** MemoryStore and RedisStore (on the run's real redis-server, under a key prefix of its own). */
export const STORE_KINDS: StoreKind[] = [
  { name: 'MemoryStore', make: () => new MemoryStore() },
  {
    name: 'RedisStore',
    make: () => {
      const client = testRedisClient();
      clients.push(client);
      return new RedisStore({ client, operationTimeoutMs: 2_000 });
    },
  },
];

/** Quits the Redis clients the store kinds created; call from afterAll. */
export async function closeStoreClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => undefined)));
}
