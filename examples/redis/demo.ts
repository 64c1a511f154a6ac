/**
 * The basic demo on Redis: `REDIS_URL=redis://127.0.0.1:6379 npm run demo:redis`.
 * Entries go under the `demo:` namespace so the demo never touches other keys.
 */
import { RedisStore, createCache } from 'express-cache-kit';
import { runDemo } from '../basic/demo';

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const store = new RedisStore({ url });
  await store.ready().catch(() => {
    throw new Error(`cannot reach Redis at ${url}: set REDIS_URL to a running redis-server`);
  });
  const cache = createCache({ store, namespace: 'demo' });
  await cache.clear();
  await runDemo(`redis store (${url})`, cache);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
