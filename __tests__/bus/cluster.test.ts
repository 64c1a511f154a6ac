/**
 * The bus on a local 3-master Redis Cluster: sharded pub/sub (SPUBLISH / SSUBSCRIBE on the
 * master owning the channel's slot), two caches in one process with their own subscribers.
 */
import type { Cluster, Redis } from 'ioredis';
import { type Cache, RedisStore, createCache } from '../../lib';
import { newRedis } from '../helpers/redis';
import { type RedisCluster, connectCluster, startRedisCluster } from '../helpers/redis-cluster';
import { nextBusEvent, nextMessage, tierOf } from './helpers';

jest.setTimeout(60_000);

let cluster: RedisCluster;
const clients: Cluster[] = [];
const caches: Cache[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
  await cluster.stop();
});

async function instance(namespace: string): Promise<Cache> {
  const client = await connectCluster(cluster, { keyPrefix: 'cl:', enableOfflineQueue: true });
  clients.push(client);
  const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace, l1: {} });
  caches.push(cache);
  await tierOf(cache).ready();
  return cache;
}

/** Per master: how many clients are subscribed to `channel` with SSUBSCRIBE. */
async function shardSubscribers(channel: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async ({ port }) => {
      const node: Redis = newRedis(`redis://127.0.0.1:${port}`);
      try {
        const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
        return Number(reply[1]);
      } finally {
        node.disconnect();
      }
    }),
  );
}

test('sharded pub/sub: both subscribers sit on the one master owning the channel; writes and tags propagate', async () => {
  const a = await instance('app');
  const b = await instance('app');
  const channel = tierOf(a).bus?.channel as string;
  expect(channel).toBe('cl:app:__bus__');
  const counts = await shardSubscribers(channel);
  expect(counts.filter((count) => count > 0)).toEqual([2]);

  // Keys in many slots: invalidations reach copies wherever their entries live.
  for (let i = 0; i < 20; i++) {
    const heard = nextMessage(b, (message) => message.kind === 'set');
    await a.set(`character:${i}`, i, { tags: ['roster'] });
    await heard;
    expect(await b.get(`character:${i}`)).toBe(i);
  }
  expect(tierOf(b).size).toBe(20);

  const updated = nextMessage(b, (message) => message.kind === 'set');
  await a.set('character:3', 'changed', { tags: ['roster'] });
  await updated;
  expect(await b.get('character:3')).toBe('changed');

  const heard = nextMessage(b, (message) => message.kind === 'invalidate');
  expect(await a.invalidateTags(['roster'])).toBe(20);
  await heard;
  expect(tierOf(b).size).toBe(0);
  expect(await b.get('character:5')).toBeUndefined();
});

test('killing the shard subscriber clears L1 and the bus comes back by itself', async () => {
  const a = await instance('app');
  const b = await instance('app');
  const heard = nextMessage(b);
  await a.set('character:1', 'v1');
  await heard;
  expect(await b.get('character:1')).toBe('v1');
  expect(tierOf(b).size).toBe(1);
  const down = nextBusEvent(b, 'down');
  const up = nextBusEvent(b, 'up');
  await Promise.all(
    cluster.nodes.map(async ({ port }) => {
      const node = newRedis(`redis://127.0.0.1:${port}`);
      try {
        await node.client('KILL', 'TYPE', 'pubsub');
      } finally {
        node.disconnect();
      }
    }),
  );
  await down;
  await up;
  expect(tierOf(b).size).toBe(0);
  // Back up: messages flow again.
  const again = nextMessage(b);
  await a.delete('character:1');
  expect(await again).toEqual({ kind: 'invalidate', keys: ['app:character:1'] });
});

test('when the channel’s slot moves to another master, the bus follows it (SUNSUBSCRIBE from the server)', async () => {
  const a = await instance('moving');
  const b = await instance('moving');
  const channel = tierOf(b).bus?.channel as string;
  const nodes = cluster.nodes.map(({ port }) => newRedis(`redis://127.0.0.1:${port}`));
  try {
    const slot = Number(await nodes[0]?.call('CLUSTER', 'KEYSLOT', channel));
    const ids = await Promise.all(nodes.map(async (node) => String(await node.call('CLUSTER', 'MYID'))));
    const counts = await shardSubscribers(channel);
    const from = counts.findIndex((count) => count > 0);
    const to = (from + 1) % nodes.length;
    const source = nodes[from] as Redis;
    const target = nodes[to] as Redis;
    expect(await source.call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);

    const down = nextBusEvent(b, 'down');
    const up = nextBusEvent(b, 'up');
    await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[from] as string);
    await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[to] as string);
    for (const node of [target, source, ...nodes.filter((_, i) => i !== from && i !== to)]) {
      await node.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids[to] as string);
    }
    await down;
    await up;
    const after = await shardSubscribers(channel);
    expect(after[to]).toBeGreaterThanOrEqual(1);

    const heard = nextMessage(b);
    await a.delete('character:1');
    expect(await heard).toEqual({ kind: 'invalidate', keys: ['moving:character:1'] });
  } finally {
    for (const node of nodes) node.disconnect();
  }
});
