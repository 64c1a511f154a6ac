import type { Cluster } from 'ioredis';
import { RedisStore, createCache } from '../../lib';
import { type RedisCluster, connectCluster, startRedisCluster } from '../helpers/redis-cluster';
import { runStoreContract } from '../../lib/testing';
import { ALL_CAPABILITIES, JEST } from './contract-api';

jest.setTimeout(60_000);

let cluster: RedisCluster;
const clients: Cluster[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
  await cluster.stop();
});

async function clusterClient(keyPrefix: string, where: 'top' | 'redisOptions'): Promise<Cluster> {
  const client = await connectCluster(
    cluster,
    where === 'top' ? { keyPrefix, enableOfflineQueue: true } : { redisOptions: { keyPrefix }, enableOfflineQueue: true },
  );
  clients.push(client);
  return client;
}

let run = 0;
runStoreContract(JEST, 'RedisStore on a Cluster (keyPrefix at the top level)', async () => {
  const client = await clusterClient(`c${run++}:`, 'top');
  return new RedisStore({ client, operationTimeoutMs: 2_000 });
}, { capabilities: ALL_CAPABILITIES });

runStoreContract(JEST, 'RedisStore on a Cluster (keyPrefix in redisOptions)', async () => {
  const client = await clusterClient(`c${run++}:`, 'redisOptions');
  return new RedisStore({ client, operationTimeoutMs: 2_000 });
}, { capabilities: ALL_CAPABILITIES });

describe('Cache on a Cluster', () => {
  test('tags, scopes and patterns reach entries in every slot', async () => {
    const client = await clusterClient('scoped:', 'top');
    const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'app' });
    for (let i = 0; i < 50; i++) await cache.set(`character:${i}`, i, { tags: ['roster', `character:${i}`] });
    await cache.set('api:character:h', 'response', { tags: ['character:7'] });
    await cache.set('content:1', 'kept');
    expect(await cache.invalidateScope('character', 7)).toBe(2);
    expect(await cache.invalidateTags(['roster'])).toBe(49);
    expect(await cache.get('content:1')).toBe('kept');
    await cache.set('character:1', 1, { tags: ['character:1'] });
    expect(await cache.invalidateScope('character')).toBe(1);
    expect(await cache.invalidatePattern('*')).toBe(1);
    await cache.close();
  });
});
