import { randomBytes } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { type FullStore, MemoryStore, RedisStore, canGuardWrites, canSoftInvalidate, createCache } from '../../lib';
import { type RedisCluster, startRedisCluster } from '../helpers/redis-cluster';
import { testRedisClient } from '../helpers/redis';

jest.setTimeout(60_000);

// The write guard (GuardCapable) and soft marks (SoftCapable), on every built-in store and on a
// real 3-master cluster, where entries, marks, stamps and indexes spread over many slots.

const bytes = (text: string): Buffer => Buffer.from(text);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: RedisCluster;
const clients: Array<Redis | Cluster> = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
  await cluster.stop();
});

async function clusterStore(): Promise<RedisStore> {
  const client = new Cluster(cluster.nodes, { keyPrefix: `cap${randomBytes(3).toString('hex')}:`, enableOfflineQueue: true });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  return new RedisStore({ client, operationTimeoutMs: 2_000 });
}

const KINDS: Array<{ name: string; make: () => Promise<FullStore> }> = [
  { name: 'MemoryStore', make: async () => new MemoryStore() },
  {
    name: 'RedisStore',
    make: async () => {
      const client = testRedisClient();
      clients.push(client);
      return new RedisStore({ client, operationTimeoutMs: 2_000 });
    },
  },
  { name: 'RedisStore on a Cluster', make: clusterStore },
];

describe.each(KINDS)('invalidation capabilities of $name', (kind) => {
  let store: FullStore;
  beforeEach(async () => {
    store = await kind.make();
  });
  afterEach(() => store.close());

  test('it has both capabilities', () => {
    expect(canGuardWrites(store)).toBe(true);
    expect(canSoftInvalidate(store)).toBe(true);
  });

  test('a guarded write is refused when one of its names was stamped after the load began', async () => {
    await store.stampInvalidations(['k:a', 't:red'], 1_000, 60_000);
    expect(await store.setUnlessInvalidated('a', bytes('v'), 60_000, undefined, ['k:a'], 999.999)).toBe(false);
    expect(await store.setUnlessInvalidated('a', bytes('v'), 60_000, ['red'], ['k:other', 't:red'], 999)).toBe(false);
    expect(await store.get('a')).toBeUndefined();
    // Stamped before the load began (or as its generation, which saw it), or another name: written.
    expect(await store.setUnlessInvalidated('a', bytes('v'), 60_000, ['red'], ['k:a', 't:red'], 1_000)).toBe(true);
    expect(await store.setUnlessInvalidated('b', bytes('w'), 60_000, undefined, ['k:b', 't:blue'], 0)).toBe(true);
    expect((await store.get('a'))?.toString()).toBe('v');
    // The guarded write joins its tag indexes like a plain tagged write.
    expect(await store.deleteTags(['red'])).toBe(1);
    expect(await store.get('a')).toBeUndefined();
  });

  test('stamps survive pattern deletes, and expire', async () => {
    // Survival on a stamp that cannot expire during the test (a slow SCAN under load took longer
    // than a short TTL once); expiry on a short one, where any delay only makes it more expired.
    await store.stampInvalidations(['p:'], 5_000, 60_000);
    await store.stampInvalidations(['q:'], 5_000, 80);
    expect(await store.deletePattern('*')).toBe(0);
    expect(await store.setUnlessInvalidated('x', bytes('v'), 60_000, undefined, ['p:'], 4_000)).toBe(false);
    await sleep(150);
    expect(await store.setUnlessInvalidated('x', bytes('v'), 60_000, undefined, ['p:'], 4_000)).toBe(false);
    expect(await store.setUnlessInvalidated('x', bytes('v'), 60_000, undefined, ['q:'], 4_000)).toBe(true);
  });

  test('getWithMark reads the bytes and the soft mark together', async () => {
    expect(await store.getWithMark('absent')).toBeUndefined();
    await store.set('a', bytes('one'), 60_000);
    expect(await store.getWithMark('a')).toEqual({ value: bytes('one'), softAt: undefined });
    expect(await store.softDelete('a', 1_234.5)).toBe(true);
    expect(await store.softDelete('absent', 1_234.5)).toBe(false);
    const marked = await store.getWithMark('a');
    expect(marked?.value.toString()).toBe('one');
    expect(marked?.softAt).toBe(1_234.5);
  });

  test('soft marks by tag reach every member (any slot) and leave the index for a later hard delete', async () => {
    for (let i = 0; i < 40; i++) await store.set(`item:${i}`, bytes(String(i)), 60_000, i % 2 === 0 ? ['even'] : ['odd']);
    expect(await store.softDeleteTags(['even'], 7_000)).toBe(20);
    for (let i = 0; i < 40; i++) expect((await store.getWithMark(`item:${i}`))?.softAt).toBe(i % 2 === 0 ? 7_000 : undefined);
    expect(await store.softDeleteTagPattern('od*', 8_000)).toBe(20);
    expect((await store.getWithMark('item:1'))?.softAt).toBe(8_000);
    expect(await store.deleteTags(['even'])).toBe(20);
    expect(await store.get('item:0')).toBeUndefined();
  });

  test('soft marks by pattern reach only matching entries', async () => {
    await store.set('character:1', bytes('a'), 60_000, ['character:1']);
    await store.set('character:2', bytes('b'), 60_000);
    await store.set('content:1', bytes('c'), 60_000);
    expect(await store.softDeletePattern('character:*', 9_000)).toBe(2);
    expect((await store.getWithMark('character:2'))?.softAt).toBe(9_000);
    expect((await store.getWithMark('content:1'))?.softAt).toBeUndefined();
    // Marks and indexes are not entries: a later pattern delete counts entries only.
    expect(await store.deletePattern('*')).toBe(3);
  });

  test('a mark leaves with its entry: a key written again later is not marked', async () => {
    await store.set('short', bytes('v'), 60);
    expect(await store.softDelete('short', 1)).toBe(true);
    await sleep(120);
    expect(await store.getWithMark('short')).toBeUndefined();
    await store.set('short', bytes('again'), 60_000);
    expect(await store.getWithMark('short')).toEqual({ value: bytes('again'), softAt: undefined });
  });

  test('keys with braces of their own are marked and read back', async () => {
    for (const key of ['{user1}:profile', 'odd}key{', 'empty{}tag']) {
      await store.set(key, bytes(key), 60_000, ['braces']);
      expect(await store.getWithMark(key)).toEqual({ value: bytes(key), softAt: undefined });
    }
    expect(await store.softDeleteTags(['braces'], 42)).toBe(3);
    for (const key of ['{user1}:profile', 'odd}key{', 'empty{}tag']) expect((await store.getWithMark(key))?.softAt).toBe(42);
  });
});

describe('Cache on a Cluster', () => {
  test('a soft scope invalidation is served stale once and refreshed, across slots', async () => {
    const cache = createCache({ store: await clusterStore(), namespace: 'app' });
    let version = 0;
    const load = (id: number): Promise<string> => cache.wrap(`character:${id}`, async () => `v${++version}`, { ttl: 60, staleWhileRevalidate: 30, tags: [`character:${id}`] });
    for (let id = 0; id < 10; id++) await load(id);
    expect(version).toBe(10);
    // Soft counts are marks made: the entry is reached by its key and by its tag.
    expect(await cache.invalidateScope('character', 3, { soft: true })).toBeGreaterThanOrEqual(1);
    expect(await load(3)).toBe('v4'); // stale at once
    const deadline = Date.now() + 10_000;
    while ((await cache.get('character:3')) !== 'v11' && Date.now() < deadline) await sleep(10);
    expect(await load(3)).toBe('v11');
    expect(await load(4)).toBe('v5');
    expect(version).toBe(11);
    await cache.close();
  });
});
