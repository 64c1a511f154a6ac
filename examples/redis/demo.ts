/**
 * The basic demo on Redis: `REDIS_URL=redis://127.0.0.1:6379 npm run demo:redis`.
 * Entries go under the `demo:` namespace so the demo never touches other keys.
 */
import { RedisStore, createCache } from 'express-cache-kit';
import { runDemo } from '../basic/demo';

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const store = new RedisStore({ url });
  // ready() never rejects: it resolves false, and lastConnectionError says why.
  if (!(await store.ready(3_000))) {
    const reason = store.lastConnectionError;
    await store.close();
    const why = reason === undefined ? 'no answer' : ((reason as NodeJS.ErrnoException).code ?? reason.message);
    throw new Error(
      `cannot reach Redis at ${url} (${why}): ${process.env.REDIS_URL === undefined ? 'REDIS_URL is not set, so the demo tried the default; ' : ''}` +
        'set REDIS_URL to a running redis-server, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run demo:redis',
    );
  }
  const cache = createCache({ store, namespace: 'demo' });
  await cache.clear();
  await runDemo(`redis store (${url})`, cache);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
