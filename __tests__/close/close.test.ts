// close() is idempotent everywhere, and after it nothing holds the process open: a script that
// closes its cache ends by itself, whether Redis is up or was never reachable. (The child's
// timeout only guards against a hang; no duration is asserted.)
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { MemoryStore, RedisStore, StoreClosedError, createCache } from '../../lib';
import { freePort } from '../helpers/redis-server';
import { testRedisUrl } from '../helpers/redis';

function runScript(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(__dirname, 'script.ts'), url], { timeout: 20_000, cwd: join(__dirname, '..', '..') }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

describe('close()', () => {
  test.each([
    ['MemoryStore', () => new MemoryStore()],
    ['RedisStore (live)', () => new RedisStore({ url: testRedisUrl() })],
  ])('%s: twice at once and once more all resolve; later use rejects with StoreClosedError', async (_name, make) => {
    const store = make();
    await Promise.all([store.close(), store.close()]);
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreClosedError);
  });

  test('Cache: idempotent, and it closes its store and its fallback', async () => {
    const store = new MemoryStore();
    const fallback = new MemoryStore();
    const cache = createCache({ store, fallback });
    await Promise.all([cache.close(), cache.close()]);
    await cache.close();
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(fallback.get('k')).rejects.toBeInstanceOf(StoreClosedError);
  });

  test('a script on a live Redis ends by itself after close()', async () => {
    const { code, stdout, stderr } = await runScript(testRedisUrl());
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('read v; closed');
  }, 30_000);

  test('a script whose Redis was never reachable ends by itself after close()', async () => {
    const { code, stdout, stderr } = await runScript(`redis://127.0.0.1:${await freePort()}`);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('closed');
  }, 30_000);
});
