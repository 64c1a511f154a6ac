import type { Redis } from 'ioredis';
import { type Cache, RedisStore, createCache } from '../../lib';
import { testRedisClient } from '../helpers/redis';
import { report } from '../helpers/report';

// Seeding and removing 100,000 keys twice on a shared two-core machine: give it room.
jest.setTimeout(120_000);

const TOTAL = 100_000;
const BATCH = 10_000;
const value = Buffer.from('x'.repeat(32));

let client: Redis;
let probe: Redis;
let cache: Cache;

beforeAll(() => {
  client = testRedisClient();
  probe = testRedisClient();
  cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 10_000 }), namespace: 'bulk' });
});
afterAll(async () => {
  await cache.clear();
  await Promise.all([client.quit(), probe.quit()]);
});

/**
 * Runs `work` while another connection PINGs Redis in a loop, and returns the elapsed time and
 * the slowest PING: how long other clients waited while the invalidation ran.
 */
async function measure(work: () => Promise<number>): Promise<{ count: number; ms: number; slowestPingMs: number }> {
  let running = true;
  let slowestPingMs = 0;
  const pinger = (async () => {
    while (running) {
      const started = process.hrtime.bigint();
      await probe.ping();
      slowestPingMs = Math.max(slowestPingMs, Number(process.hrtime.bigint() - started) / 1e6);
    }
  })();
  const started = process.hrtime.bigint();
  const count = await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  running = false;
  await pinger;
  return { count, ms, slowestPingMs };
}

test(`invalidating ${TOTAL.toLocaleString('en')} keys by pattern (SCAN + pipelined UNLINK)`, async () => {
  // MSET batches: the fastest way in; the entries need no TTL for this test (afterAll clears).
  for (let start = 0; start < TOTAL; start += BATCH) {
    const pairs: Array<string | Buffer> = [];
    for (let i = start; i < start + BATCH; i++) pairs.push(`bulk:item:${i}`, value);
    await client.mset(...pairs);
  }
  await cache.set('keep:1', 'kept');
  const result = await measure(() => cache.invalidatePattern('item:*'));
  report(
    `pattern invalidation: ${result.count} keys in ${result.ms.toFixed(0)} ms; slowest concurrent PING ${result.slowestPingMs.toFixed(1)} ms`,
  );
  expect(result.count).toBe(TOTAL);
  expect(await client.exists('bulk:item:0', `bulk:item:${TOTAL - 1}`)).toBe(0);
  expect(await cache.get('keep:1')).toBe('kept');
});

test(`invalidating ${TOTAL.toLocaleString('en')} keys by tag (atomic SPOP + UNLINK batches, no keyspace scan)`, async () => {
  // The first batch goes through the store (the index real writes build, one Lua call each);
  // the rest is written in bulk with the same layout (raw key names in a SET at <namespace>__tag__:<tag>,
  // checked in redis.test.ts), which keeps the seeding to a few seconds.
  await Promise.all(Array.from({ length: 1_000 }, (_, i) => cache.store.set(`bulk:tagged:${i}`, value, 600_000, ['bulk:big'])));
  for (let start = 1_000; start < TOTAL; start += BATCH) {
    const end = Math.min(start + BATCH, TOTAL);
    const pairs: Array<string | Buffer> = [];
    const members: string[] = [];
    for (let i = start; i < end; i++) {
      pairs.push(`bulk:tagged:${i}`, value);
      members.push(`${client.options.keyPrefix}bulk:tagged:${i}`);
    }
    await client.mset(...pairs);
    await client.sadd('bulk:__tag__:bulk:big', ...members);
  }
  await cache.set('keep:2', 'kept', { tags: ['small'] });
  expect(await client.scard('bulk:__tag__:bulk:big')).toBe(TOTAL);
  const result = await measure(() => cache.invalidateTags(['big']));
  report(`tag invalidation: ${result.count} keys in ${result.ms.toFixed(0)} ms; slowest concurrent PING ${result.slowestPingMs.toFixed(1)} ms`);
  expect(result.count).toBe(TOTAL);
  expect(await client.exists('bulk:__tag__:bulk:big', 'bulk:tagged:0', `bulk:tagged:${TOTAL - 1}`)).toBe(0);
  expect(await cache.get('keep:2')).toBe('kept');
});
