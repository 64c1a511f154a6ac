import type { PostgresServer } from './postgres-server';
import type { RedisServer } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __REDIS_SERVER__?: RedisServer }).__REDIS_SERVER__?.stop();
  await (globalThis as { __POSTGRES_SERVER__?: PostgresServer }).__POSTGRES_SERVER__?.stop();
}
