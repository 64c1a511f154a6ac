import { Redis } from 'ioredis';
import { type Cache, IncompleteDeleteError, RedisStore, StoreError, createCache } from '../../lib';
import { type RedisServer, freePort, startRedisServer } from '../helpers/redis-server';
import { report } from '../helpers/report';

// Each test runs its own redis-server: they kill it, pause it or fill its memory, which must not
// touch the run's shared one.
jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error('condition never held');
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function server(args: string[] = [], port?: number): Promise<RedisServer> {
  const started = await startRedisServer({ args, port });
  cleanups.push(() => started.stop());
  return started;
}
function admin(url: string): Redis {
  const client = new Redis(url);
  cleanups.push(async () => client.disconnect());
  return client;
}
function cacheOn(store: RedisStore, options: Parameters<typeof createCache>[0] = {}): Cache {
  const cache = createCache({ store, ...options });
  cleanups.push(() => cache.close());
  return cache;
}

describe('RedisStore.ready and connection errors (Redis absent at boot)', () => {
  test('ready() resolves false when Redis is not there, never rejects, and true once it is', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, operationTimeoutMs: 200 });
    const cache = cacheOn(store);
    // Expected here, so heard here (unheard, the first one would be a process warning).
    const failed: string[] = [];
    cache.on('error', ({ operation }) => failed.push(operation));
    await expect(store.ready(300)).resolves.toBe(false);
    // The app serves from the origin meanwhile.
    expect(await cache.wrap('k', async () => 'origin')).toBe('origin');
    expect(failed.length).toBeGreaterThan(0);
    await server([], port);
    await expect(store.ready(10_000)).resolves.toBe(true);
    await expect(store.ready(1)).resolves.toBe(true);
  });

  test('errors reported while Redis is unreachable carry the connection error as cause, with its code', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, operationTimeoutMs: 200 });
    const cache = cacheOn(store, { breaker: false });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    expect(await store.ready(300)).toBe(false);
    expect((store.lastConnectionError as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNREFUSED');
    await cache.get('k');
    expect(errors).toHaveLength(1);
    const [error] = errors as [StoreError];
    expect(error).toBeInstanceOf(StoreError);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  test('through the breaker too, and in the one-time warning when nobody listens', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, operationTimeoutMs: 200 });
    const cache = cacheOn(store);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    cleanups.push(async () => warn.mockRestore());
    expect(await store.ready(300)).toBe(false);
    await cache.get('k');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/ECONNREFUSED/);
  });
});

describe('recovery after an outage', () => {
  test('a background probe closes the breaker with no request arriving, and downtimeMs is the real outage', async () => {
    const redis = await server();
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 200 });
    expect(await store.ready()).toBe(true);
    const cache = cacheOn(store, { breaker: { failureThreshold: 2 } });
    let firstErrorAt: number | undefined;
    let degradedAt: number | undefined;
    const recovered: Array<{ at: number; downtimeMs: number }> = [];
    cache.on('error', () => void (firstErrorAt ??= Date.now()));
    cache.on('degraded', () => void (degradedAt = Date.now()));
    cache.on('recovered', ({ downtimeMs }) => void recovered.push({ at: Date.now(), downtimeMs }));
    await cache.set('kept', 'v');

    await redis.stop();
    for (let i = 0; i < 3; i++) await cache.get('kept');
    expect(degradedAt).toBeDefined();
    // A long outage, many failing probes: none of them may push recovery back.
    await sleep(1_500);
    await server([], redis.port);
    const restartedAt = Date.now();
    // No request from here on: only the background probe can notice Redis is back.
    await eventually(() => recovered.length === 1, 500);
    const [{ at, downtimeMs }] = recovered as [{ at: number; downtimeMs: number }];
    expect(downtimeMs).toBeGreaterThanOrEqual(restartedAt - (firstErrorAt as number));
    report(`recovery noticed ${at - restartedAt} ms after redis-server answered again; downtimeMs ${downtimeMs}`);
    await cache.set('after', 'v');
    expect(await cache.get('after')).toBe('v');
  });
});

describe('Redis out of memory (maxmemory + noeviction)', () => {
  test('failed writes open the breaker although reads succeed, show in stats(), and a write probe recovers', async () => {
    const redis = await server(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    const raw = admin(redis.url);
    // Fill until Redis refuses writes.
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 1_000; i++) {
      try {
        await raw.set(`fill:${i}`, chunk);
      } catch (error) {
        expect(String(error)).toMatch(/OOM/);
        break;
      }
    }
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 500 });
    expect(await store.ready()).toBe(true);
    const cache = cacheOn(store, { breaker: { failureThreshold: 3 } });
    const transitions: string[] = [];
    cache.on('degraded', () => transitions.push('degraded'));
    cache.on('recovered', () => transitions.push('recovered'));
    cache.on('error', () => undefined);
    let origin = 0;
    for (let i = 0; i < 20; i++) await cache.wrap(`k${i}`, async () => ++origin, { ttl: 60 });
    expect(origin).toBe(20);
    expect(transitions).toEqual(['degraded']);
    expect(cache.stats().writeErrors).toBeGreaterThanOrEqual(1);
    expect(cache.stats().writeErrors).toBeLessThan(20);

    await raw.flushall();
    await eventually(() => transitions.length === 2);
    expect(transitions).toEqual(['degraded', 'recovered']);
    expect(await cache.set('now', 'fits')).toBe(true);
  });
});

describe('pattern deletes under a paused Redis', () => {
  async function filled(count: number): Promise<{ redis: RedisServer; raw: Redis }> {
    const redis = await server();
    const raw = admin(redis.url);
    for (let i = 0; i < count; i += 1_000) {
      const pipeline = raw.pipeline();
      for (let j = i; j < Math.min(count, i + 1_000); j++) pipeline.set(`bulk:${j}`, 'x');
      await pipeline.exec();
    }
    await raw.set('keep', 'x');
    return { redis, raw };
  }

  test('a SCAN/UNLINK step that fails during a short pause is retried: the delete completes', async () => {
    const { redis, raw } = await filled(20_000);
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 100, scanCount: 200 });
    cleanups.push(() => store.close());
    expect(await store.ready()).toBe(true);
    const deleting = store.deletePattern('bulk:*');
    // Commands of every other client wait 300 ms: longer than a step may take.
    await raw.call('CLIENT', 'PAUSE', '300', 'ALL');
    await expect(deleting).resolves.toBe(20_000);
    expect(await raw.exists('keep')).toBe(1);
  });

  test('when the retries run out, the error says how far it got; running it again finishes', async () => {
    const { redis, raw } = await filled(20_000);
    const store = new RedisStore({ url: redis.url, operationTimeoutMs: 100, scanCount: 200, scanRetries: 1 });
    cleanups.push(() => store.close());
    expect(await store.ready()).toBe(true);
    const deleting = store.deletePattern('bulk:*');
    await sleep(20);
    await raw.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const error = await deleting.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(IncompleteDeleteError);
    const incomplete = error as IncompleteDeleteError;
    expect(incomplete.pattern).toBe('bulk:*');
    expect(incomplete.message).toMatch(/stopped after removing \d+ entries, at SCAN cursor \d+/);
    await sleep(1_600);
    const left = (await raw.dbsize()) - 1;
    // A timed-out UNLINK may still have run on the server: at least what it reported is gone.
    expect(20_000 - left).toBeGreaterThanOrEqual(incomplete.removed);
    expect(incomplete.removed).toBeLessThan(20_000);
    await expect(store.deletePattern('bulk:*')).resolves.toBe(left);
    expect(await raw.exists('keep')).toBe(1);
  });
});
