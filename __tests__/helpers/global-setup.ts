import { startPostgresServer } from './postgres-server';
import { startRedisServer } from './redis-server';

// One redis-server for the whole run; test files isolate themselves with a key prefix of their
// own (see `testRedisClient`), and tests that kill Redis start a private server instead.
export default async function globalSetup(): Promise<void> {
  const server = await startRedisServer();
  (globalThis as { __REDIS_SERVER__?: unknown }).__REDIS_SERVER__ = server;
  process.env.CACHE_KIT_TEST_REDIS_URL = server.url;
  // Likewise one PostgreSQL for the run: test files isolate themselves with tables of their own
  // (see `testPostgresTable`), and tests that stop PostgreSQL start a private server.
  let postgres;
  try {
    postgres = await startPostgresServer();
  } catch (err) {
    await server.stop();
    throw err;
  }
  (globalThis as { __POSTGRES_SERVER__?: unknown }).__POSTGRES_SERVER__ = postgres;
  process.env.CACHE_KIT_TEST_POSTGRES_URL = postgres.url;
}
