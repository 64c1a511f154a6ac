/**
 * Memory scenario, run in a fresh process with `--expose-gc` so nothing else lives in its heap:
 *
 * - `per-entry COUNT`: fills a MemoryStore (bounds set above the fill) with COUNT entries of
 *   1 KB through the Store API, and reports what the process grew by (RSS, V8 heap, off-heap
 *   Buffer memory) after a full GC.
 * - `bound COUNT MAX_BYTES`: fills a MemoryStore whose `maxBytes` is MAX_BYTES with COUNT
 *   entries of 1 KB (far more than fits), and reports `store.bytes`, `store.size` and RSS.
 *
 * Prints one JSON object.
 */
import { MemoryStore } from '../../lib';

const VALUE_BYTES = 1_024;
const TTL_MS = 600_000;

type Gc = () => void;

async function settle(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage();
}

// The shape of a real response key (`api:{endpoint}:{40-hex sha1}`), without paying for hashing.
function keyOf(i: number): string {
  return `api:item:${i.toString(16).padStart(40, '0')}`;
}

// One scratch buffer, rewritten per entry: MemoryStore keeps its own copy, and fresh source
// buffers would leave 1 KB of garbage per entry in the RSS being measured.
const scratch = Buffer.alloc(VALUE_BYTES, 0x61);
function valueOf(i: number): Buffer {
  scratch.writeUInt32BE(i, 0);
  return scratch;
}

async function perEntry(count: number): Promise<Record<string, number>> {
  const store = new MemoryStore({ maxEntries: count * 2, maxBytes: count * VALUE_BYTES * 4 });
  const before = await settle();
  for (let i = 0; i < count; i++) await store.set(keyOf(i), valueOf(i), TTL_MS);
  const after = await settle();
  if (store.size !== count) throw new Error(`expected ${count} entries, the store holds ${store.size}`);
  return {
    entries: store.size,
    payloadBytes: count * VALUE_BYTES,
    storeBytes: store.bytes,
    rssDelta: after.rss - before.rss,
    heapDelta: after.heapUsed - before.heapUsed,
    // Buffers live outside the V8 heap; Node counts them in `external`.
    externalDelta: after.external - before.external,
    rssPerEntry: (after.rss - before.rss) / count,
  };
}

async function bound(count: number, maxBytes: number): Promise<Record<string, number>> {
  const store = new MemoryStore({ maxEntries: count * 4, maxBytes });
  const before = await settle();
  let peakStoreBytes = 0;
  // Two passes of fresh keys: the first shows the bound, the second that RSS stops growing once
  // the allocator reuses what evictions freed (steady state).
  const afterPass: NodeJS.MemoryUsage[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (let i = pass * count; i < (pass + 1) * count; i++) {
      await store.set(keyOf(i), valueOf(i), TTL_MS);
      if (store.bytes > peakStoreBytes) peakStoreBytes = store.bytes;
    }
    afterPass.push(await settle());
  }
  const [first, second] = afterPass as [NodeJS.MemoryUsage, NodeJS.MemoryUsage];
  return {
    maxBytes,
    attemptedBytes: 2 * count * VALUE_BYTES,
    entries: store.size,
    storeBytes: store.bytes,
    peakStoreBytes,
    rssDeltaAfterPass1: first.rss - before.rss,
    rssDeltaAfterPass2: second.rss - before.rss,
    externalDeltaAfterPass2: second.external - before.external,
    heapDeltaAfterPass2: second.heapUsed - before.heapUsed,
  };
}

async function main(): Promise<void> {
  const [mode, countText, maxBytesText] = process.argv.slice(2);
  const count = Number(countText);
  if (!Number.isInteger(count) || count <= 0 || count > 2_000_000) throw new Error('COUNT must be an integer in 1..2,000,000');
  const result = mode === 'per-entry' ? await perEntry(count) : mode === 'bound' ? await bound(count, Number(maxBytesText)) : undefined;
  if (!result) throw new Error('usage: memory.ts per-entry COUNT | bound COUNT MAX_BYTES');
  process.stdout.write(JSON.stringify(result));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
