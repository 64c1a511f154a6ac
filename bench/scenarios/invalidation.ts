/**
 * Invalidation scenario: `node --import tsx bench/scenarios/invalidation.ts REDIS_URL COUNT ROUND`.
 *
 * Each round uses its own namespace on the benchmark's redis-server and:
 * - writes COUNT matching keys (`character:*`) and COUNT others (`content:*`) that the SCAN must
 *   walk past, then times `cache.invalidatePattern('character:*')`, while a probe client times
 *   sequential GETs to show whether Redis stayed responsive;
 * - when `cache.invalidateTags` exists, writes COUNT entries through `cache.set` with one shared
 *   tag and times `cache.invalidateTags([tag])`; otherwise reports why it was skipped.
 *
 * Prints one JSON object.
 */
import { Redis } from 'ioredis';
import { type Cache, RedisStore, type SetOptions, createCache } from '../../lib';

const VALUE = Buffer.alloc(1_024, 0x61);
const FILL_BATCH = 1_000;
const TTL_MS = 600_000;
const PROBE_DEADLINE_MS = 120_000;

interface Probe {
  stop(): Promise<{ gets: number; p99: number; max: number }>;
}

/** Sequential GETs on another connection until stopped (or a hard deadline), timing each. */
function startProbe(url: string): Probe {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const latencies: number[] = [];
  let running = true;
  const deadline = Date.now() + PROBE_DEADLINE_MS;
  const loop = (async (): Promise<void> => {
    while (running && Date.now() < deadline) {
      const started = performance.now();
      await client.get('probe');
      latencies.push(performance.now() - started);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.disconnect();
      latencies.sort((a, b) => a - b);
      const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? Number.NaN;
      return { gets: latencies.length, p99: at(0.99), max: latencies[latencies.length - 1] ?? Number.NaN };
    },
  };
}

async function fillRaw(client: Redis, prefix: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += FILL_BATCH) {
    const pipeline = client.pipeline();
    for (let i = start; i < Math.min(count, start + FILL_BATCH); i++) pipeline.set(`${prefix}${i}`, VALUE, 'PX', TTL_MS);
    await pipeline.exec();
  }
}

async function byPattern(url: string, cache: Cache, namespace: string, count: number): Promise<Record<string, number>> {
  const filler = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await fillRaw(filler, `${namespace}:character:`, count);
    await fillRaw(filler, `${namespace}:content:`, count);
    const probe = startProbe(url);
    const started = performance.now();
    const removed = await cache.invalidatePattern('character:*');
    const ms = performance.now() - started;
    const during = await probe.stop();
    if (removed !== count) throw new Error(`invalidatePattern removed ${removed}, expected ${count}`);
    const leftover = await filler.exists(`${namespace}:character:0`, `${namespace}:character:${count - 1}`);
    if (leftover !== 0) throw new Error('matching keys survived invalidatePattern');
    return { removed, scannedKeys: 2 * count, ms, probeGets: during.gets, probeP99Ms: during.p99, probeMaxMs: during.max };
  } finally {
    filler.disconnect();
  }
}

type TaggedCache = Cache & { invalidateTags(tags: string[]): Promise<number> };

function hasTags(cache: Cache): cache is TaggedCache {
  return typeof (cache as Partial<TaggedCache>).invalidateTags === 'function';
}

async function byTag(cache: TaggedCache, count: number): Promise<Record<string, number>> {
  const tag = 'bench-all';
  // `tags` joins SetOptions with tag support; typed this way the scenario compiles before and after.
  const options: SetOptions & { tags: string[] } = { ttl: 600, tags: [tag] };
  const value = VALUE.toString('latin1');
  const fillStarted = performance.now();
  for (let start = 0; start < count; start += FILL_BATCH) {
    const writes: Array<Promise<boolean>> = [];
    for (let i = start; i < Math.min(count, start + FILL_BATCH); i++) writes.push(cache.set(`tagged:${i}`, value, options));
    const results = await Promise.all(writes);
    if (results.includes(false)) throw new Error('a tagged write failed');
  }
  const fillMs = performance.now() - fillStarted;
  const started = performance.now();
  const removed = await cache.invalidateTags([tag]);
  const ms = performance.now() - started;
  if ((await cache.get('tagged:0')) !== undefined) throw new Error('a tagged entry survived invalidateTags');
  return { removed: Number(removed), ms, fillMs };
}

async function main(): Promise<void> {
  const [url, countText, roundText] = process.argv.slice(2);
  const count = Number(countText);
  if (!url || !Number.isInteger(count) || count <= 0 || count > 1_000_000) throw new Error('usage: invalidation.ts REDIS_URL COUNT(1..1e6) ROUND');
  const namespace = `inv${roundText ?? '0'}`;
  const store = new RedisStore({ url, operationTimeoutMs: 5_000 });
  await store.ready();
  const cache = createCache({ store, namespace });
  cache.on('error', ({ error, operation }) => process.stderr.write(`cache ${operation} error: ${error.message}\n`));
  try {
    const pattern = await byPattern(url, cache, namespace, count);
    const tags = hasTags(cache) ? await byTag(cache, count) : { skipped: 'cache.invalidateTags does not exist in this build (tags: issue 4)' };
    process.stdout.write(JSON.stringify({ count, pattern, tags }));
  } finally {
    await cache.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
