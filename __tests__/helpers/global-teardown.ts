import type { RedisServer } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __REDIS_SERVER__?: RedisServer }).__REDIS_SERVER__?.stop();
}
