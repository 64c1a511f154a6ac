/**
 * Background revalidation across real processes: two app instances, each its own Node process
 * (fixtures/refresh-process.ts), share one redis-server. A stale key is refreshed once, by the
 * instance that takes the fill lock; the other serves stale and leaves the refresh to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { RedisStore, createCache } from '../../lib';
import { testRedisClient, testRedisUrl } from '../helpers/redis';
import { until } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures', 'refresh-process.ts');
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) child.stdin?.end();
});

function start(keyPrefix: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, testRedisUrl(), keyPrefix], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app process did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      resolve(`http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`);
    });
    child.once('exit', (code) => reject(new Error(`the app process exited (${String(code)}): ${stderr}`)));
  });
}

/** One request naming one Host whatever the port (the key covers it), as clients of one site do. */
function call(base: string, urlPath: string, method: 'GET' | 'POST' = 'GET'): Promise<{ xCache: string | undefined; text: string }> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers: { host: '127.0.0.1' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ xCache: res.headers['x-cache'] as string | undefined, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.end();
  });
}

async function get(base: string, urlPath: string): Promise<{ xCache: string | undefined; body: unknown }> {
  const res = await call(base, urlPath);
  return { xCache: res.xCache, body: JSON.parse(res.text) as unknown };
}

const state = async (base: string): Promise<{ calls: number; refreshes: string[] }> => (await get(base, '/state')).body as { calls: number; refreshes: string[] };
const post = async (base: string, urlPath: string): Promise<void> => {
  await call(base, urlPath, 'POST');
};

test('two processes on one Redis: one refresh per key', async () => {
  const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
  const [a, b] = await Promise.all([start(keyPrefix), start(keyPrefix)]);
  const client = testRedisClient({ keyPrefix });
  const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'shared' });
  try {
    expect((await get(a, '/top')).xCache).toBe('MISS');
    await until(async () => (await get(a, '/top')).xCache === 'HIT', 'the first answer to be stored');
    const first = await get(b, '/top');
    expect(first.xCache).toBe('HIT');
    expect(await cache.invalidatePattern('api:top:*', { soft: true })).toBe(1);
    await post(a, '/hold');
    await post(b, '/hold');
    const stale = await get(a, '/top');
    expect(stale.xCache).toBe('STALE');
    expect(stale.body).toEqual(first.body);
    await until(async () => (await state(a)).calls === 2, 'the refresh to reach the handler in A');
    expect((await get(b, '/top')).xCache).toBe('STALE');
    await until(async () => (await state(b)).refreshes.length === 1, 'B to give up its refresh');
    expect((await state(b)).refreshes).toEqual(['stale skipped']);
    await post(a, '/release');
    await until(async () => (await state(a)).refreshes.length === 1, 'A to store the refresh');
    expect((await state(a)).refreshes).toEqual(['stale stored']);
    const fresh = await get(b, '/top');
    expect(fresh.xCache).toBe('HIT');
    expect(fresh.body).not.toEqual(first.body);
    expect((await state(a)).calls + (await state(b)).calls).toBe(2);
  } finally {
    await cache.close();
    await client.quit().catch(() => undefined);
  }
});
