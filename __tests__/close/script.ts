// A script as a user writes it: a cache on Redis, a read, then close() (twice, as shutdown hooks
// often do). It must then end by itself; close.test.ts runs it in a child process. The Redis
// URL is the first argument (a live server, or a port nobody listens on).
import { MemoryStore, RedisStore, createCache } from '../../lib';

async function main(): Promise<void> {
  const url = process.argv[2] ?? '';
  const cache = createCache({ store: new RedisStore({ url }), fallback: new MemoryStore() });
  cache.on('error', () => undefined); // a dead server is expected in one case
  await cache.set('script:k', 'v');
  const value = await cache.get('script:k');
  await Promise.all([cache.close(), cache.close()]);
  await cache.close();
  console.log(`read ${String(value)}; closed`);
}

void main();
