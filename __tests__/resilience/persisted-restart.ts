import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';

/**
 * Saves what the test's own redis-server holds to an RDB file in a new directory, so it can be
 * restarted holding it, as a persisted Redis would come back. With recovery noticed within
 * milliseconds, putting entries back after a restart would race the recovery; loading them at
 * boot cannot.
 */
export async function saveSnapshot(url: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-rdb-'));
  const raw = new Redis(url);
  try {
    // `dir` is a protected setting on Redis 7: save where the server writes, then copy.
    const [, serverDir] = (await raw.config('GET', 'dir')) as [string, string];
    await raw.save();
    copyFileSync(path.join(serverDir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
  } finally {
    raw.disconnect();
  }
  return dir;
}

/** Starts a redis-server on `port` that loads the snapshot in `dir` before it answers. */
export async function restartFromSnapshot(port: number, dir: string): Promise<RedisServer> {
  const server = await startRedisServer({ port, args: ['--dir', dir] });
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
