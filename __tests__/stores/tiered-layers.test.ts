import { randomBytes } from 'node:crypto';
import { MemoryStore, RedisStore, createCache } from '../../lib';
import { listEntries } from '../../lib/metrics/inventory';
import { testRedisClient } from '../helpers/redis';

// What walks a store stack (the dashboard's key list, the Prometheus exporter) sees through the
// L1 tier to the store behind it.

test('the key list of a cache with l1 lists its entries (memory, no bus)', async () => {
  const cache = createCache({ store: new MemoryStore(), namespace: 'app', l1: {}, bus: false });
  await cache.set('character:1', { v: 1 }, { ttl: 60 });
  expect((await listEntries(cache.store, cache.namespacePrefix, 10))?.map(({ key }) => key)).toEqual(['character:1']);
  await cache.close();
});

test('the key list of a cache with l1 lists its entries (Redis, with its bus)', async () => {
  // No keyPrefix: a namespace of its own keeps this test's keys apart on the shared server.
  const client = testRedisClient({ keyPrefix: '' });
  const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: `layers${randomBytes(4).toString('hex')}`, l1: {} });
  try {
    await cache.set('character:1', { v: 1 }, { ttl: 60 });
    expect((await listEntries(cache.store, cache.namespacePrefix, 10))?.map(({ key }) => key)).toEqual(['character:1']);
  } finally {
    await cache.close();
    client.disconnect();
  }
});

test('the key list of a Redis cache whose client has a keyPrefix reads each entry through that prefix once', async () => {
  // testRedisClient gives every client a keyPrefix of its own: SCAN answers raw names, which
  // already carry it, so the size and TTL reads must not add it again.
  const client = testRedisClient();
  const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'listed' });
  try {
    await cache.set('character:1', { v: 1 }, { ttl: 60 });
    const listed = await listEntries(cache.store, cache.namespacePrefix, 10);
    expect(listed?.map(({ key }) => key)).toEqual(['character:1']);
    expect(listed?.[0]?.ttlMs).toBeGreaterThan(50_000);
    expect(listed?.[0]?.bytes).toBeGreaterThan(0);
  } finally {
    await cache.close();
    client.disconnect();
  }
});
