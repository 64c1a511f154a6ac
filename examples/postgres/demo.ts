/**
 * PostgreSQL cache tables on PostgresStore: one table per kind of cached data, each with its
 * TTL profile, sharing one pool; then the monitoring printout from `inspect()`.
 *
 *   DATABASE_URL=postgres://user@127.0.0.1:5432/db npm run demo:postgres
 *
 * The tables are created when missing (`cache_embeddings`, `cache_llm_responses`, ...) and left
 * in place, so a second run shows the hit counts growing.
 */
import { Pool } from 'pg';
import { type Cache, PostgresStore, type TtlProfileName, createCache } from 'express-cache-kit';

/** Kinds of cached data, each a table of its own, with its TTL profile. */
const CACHE_TYPES: Array<{ table: string; ttl: TtlProfileName }> = [
  { table: 'cache_embeddings', ttl: 'embeddings' }, // 24 h: embeddings don't change for the same text
  { table: 'cache_llm_responses', ttl: 'llm_responses' }, // 1 h: responses may need updates
  { table: 'cache_vector_search', ttl: 'vector_search' }, // 1 h: the knowledge base may change
  { table: 'cache_audio_chunks', ttl: 'audio_chunks' }, // 24 h: audio doesn't change for the same input
];

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('Set DATABASE_URL to a PostgreSQL database the demo may create tables in, e.g.\n  DATABASE_URL=postgres://user@127.0.0.1:5432/db npm run demo:postgres');
    process.exitCode = 1;
    return;
  }
  // One pool the application owns, shared by every cache table; the stores never end it.
  const pool = new Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 2_000 });
  pool.on('error', (err) => console.error('idle PostgreSQL connection failed:', err.message));
  try {
    const caches = new Map<string, { cache: Cache; store: PostgresStore }>();
    for (const { table, ttl } of CACHE_TYPES) {
      const store = new PostgresStore({ pool, table, maxEntries: 10_000 });
      await store.ready();
      const cache = createCache({ store, defaultTtl: ttl });
      caches.set(table, { cache, store });
    }
    const llm = caches.get('cache_llm_responses') as { cache: Cache; store: PostgresStore };
    const embeddings = caches.get('cache_embeddings') as { cache: Cache; store: PostgresStore };

    let llmCalls = 0;
    const ask = (question: string): Promise<string> =>
      llm.cache.wrap(`llm:${question}`, async () => {
        llmCalls++;
        await new Promise((resolve) => setTimeout(resolve, 30)); // the expensive API call
        return `an answer to "${question}"`;
      });
    for (const question of ['what is a cache?', 'what is a cache?', 'what is a cache?', 'why PostgreSQL?', 'why PostgreSQL?']) await ask(question);
    console.log(`5 questions, ${llmCalls} LLM calls`);

    for (const text of ['hello', 'world', 'hello']) {
      await embeddings.cache.wrap(`emb:${text}`, async () => Array.from({ length: 8 }, (_, i) => text.charCodeAt(i % text.length) / 255), { tags: ['model:small'] });
    }
    // Invalidate by pattern: `_` and `%` in the pattern are literal here.
    console.log('invalidated llm:why*:', await llm.cache.invalidatePattern('llm:why*'));

    console.log('\nmonitoring (entries, hits, valid entries, size, most-hit keys)');
    for (const [table, { store }] of caches) {
      const report = await store.inspect({ top: 3 });
      console.log(
        `${table.padEnd(22)} entries ${String(report.entries).padStart(3)}  expired ${report.expired}  hits ${report.hits}  avg ${report.averageHits.toFixed(2)}  ` +
          `${(report.storageBytes / 1024).toFixed(0)} KiB  oldest ${report.oldestAgeSeconds.toFixed(1)} s`,
      );
      for (const entry of report.top) console.log(`    ${entry.key.padEnd(28)} ${entry.hits} hits, last ${entry.lastAccessedAt.toISOString()}`);
    }
    for (const { cache } of caches.values()) await cache.close();
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
