/**
 * An invalidation is never lost, never late and never a crash: each test is one way a user who
 * did the right thing (invalidate after the write) used to get the old answer back, on a real
 * redis-server of its own that the test kills, freezes or restarts.
 */
import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, MemoryStore, RedisStore, SqliteStore, cacheResponse, createCache, invalidateAfter, invalidateCharacterCache } from '../../lib';
import { newRedis, testRedisClient, testRedisUrl } from '../helpers/redis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';
import { EXPRESS_VERSIONS, whenSet } from '../http/helpers';
import { restartFromSnapshot, saveSnapshot } from '../resilience/persisted-restart';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An app whose GET /characters/:id is cached for 300 s and whose write handler is `write`. */
function characterApp(create: () => Express, cache: Cache, rows: Map<string, number>, write: 'invalidateAfter' | 'await helper') {
  const app = create();
  app.get('/characters/:id', cacheResponse({ cache, ttl: 300, keyPrefix: 'character' }), (req: Request, res: Response) => {
    res.json({ id: req.params.id, version: rows.get(String(req.params.id)) });
  });
  if (write === 'invalidateAfter') {
    app.put('/characters/:id', invalidateAfter((req) => ({ scopes: [['character', String(req.params.id)]] }), { cache }), (req: Request, res: Response) => {
      rows.set(String(req.params.id), (rows.get(String(req.params.id)) ?? 0) + 1);
      res.status(204).end();
    });
  } else {
    // The README's write handler: the database write, then `await` the helper.
    app.put('/characters/:id', async (req: Request, res: Response) => {
      rows.set(String(req.params.id), (rows.get(String(req.params.id)) ?? 0) + 1);
      const result = await invalidateCharacterCache(String(req.params.id), { cache });
      res.json(result);
    });
  }
  return app;
}

describe.each(EXPRESS_VERSIONS)('never late ($name)', ({ express }) => {
  test('invalidateAfter: a GET sent as soon as the 204 arrives never gets the old answer', async () => {
    const client = testRedisClient();
    const cache = createCache({ store: new RedisStore({ client }) });
    const rows = new Map([['1', 1]]);
    const app = characterApp(() => express(), cache, rows, 'invalidateAfter');
    let old = 0;
    for (let round = 0; round < 20; round++) {
      await request(app).get('/characters/1');
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
      await request(app).put('/characters/1').expect(204);
      const after = await request(app).get('/characters/1');
      if (after.body.version !== rows.get('1')) old++;
    }
    expect(old).toBe(0);
    await cache.close();
    client.disconnect();
  });
});

describe('never lost: Redis down while the app is idle', () => {
  let server: RedisServer | undefined;
  // A failing test still closes its cache: an open connection would hold the worker open.
  let openCache: Cache | undefined;
  afterEach(async () => {
    await openCache?.close();
    openCache = undefined;
    await server?.stop();
    server = undefined;
  });

  /** Redis holds a cached answer; it dies; the write invalidates; it restarts from its RDB file. */
  async function outage(makeCache: (url: string) => Cache, create: () => Express, write: 'invalidateAfter' | 'await helper') {
    server = await startRedisServer();
    const cache = (openCache = makeCache(server.url));
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    await opened?.ready();
    const rows = new Map([['1', 1]]);
    const app = characterApp(create, cache, rows, write);
    const stored = whenSet(cache);
    await request(app).get('/characters/1');
    await stored;
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
    const snapshot = await saveSnapshot(server.url);
    const { port } = server;
    await server.stop();
    // The write succeeds and answers, though the store is gone; the invalidation is kept.
    const written = await request(app).put('/characters/1');
    expect(written.status).toBeLessThan(300);
    if (write === 'await helper') expect(written.body).toEqual({ removed: expect.any(Number), pending: true });
    expect(errors.length).toBeGreaterThan(0);
    const recovered = new Promise<void>((resolve) => cache.on('recovered', () => resolve()));
    server = await restartFromSnapshot(port, snapshot);
    // Reads from the moment Redis answers again, through the replay and after it.
    let old = 0;
    let reads = 0;
    let back = false;
    void recovered.then(() => (back = true));
    const until = Date.now() + 20_000;
    while (!back && Date.now() < until) {
      const res = await request(app).get('/characters/1');
      reads++;
      if (res.body.version !== 2) old++;
      await sleep(10);
    }
    expect(back).toBe(true);
    for (let i = 0; i < 20; i++) {
      const res = await request(app).get('/characters/1');
      reads++;
      if (res.body.version !== 2) old++;
    }
    expect({ old, reads: reads > 20 }).toEqual({ old: 0, reads: true });
    // And the cache caches again (the reads above stored the new answer).
    expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
  }

  // The RedisStore the last cache was built on (cache.store is the resilience wrapper around it).
  let opened: RedisStore | undefined;
  const fast = (url: string): RedisStore => (opened = new RedisStore({ url, operationTimeoutMs: 500 }));

  test.each(EXPRESS_VERSIONS)('the README write handler answers (no crash, no 500) and the invalidation survives the restart ($name)', async ({ express }) => {
    await outage((url) => createCache({ store: fast(url) }), () => express(), 'await helper');
  });

  test('invalidateAfter: the invalidation survives the restart', async () => {
    await outage((url) => createCache({ store: fast(url) }), () => (EXPRESS_VERSIONS[0] as (typeof EXPRESS_VERSIONS)[number]).express(), 'invalidateAfter');
  });

  test('with a memory fallback in mirror mode', async () => {
    await outage((url) => createCache({ store: fast(url), fallback: new MemoryStore(), fallbackMode: 'mirror' }), () => (EXPRESS_VERSIONS[0] as (typeof EXPRESS_VERSIONS)[number]).express(), 'await helper');
  });

  test('with a SQLite fallback in mirror mode', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cache-kit-mirror-'));
    try {
      await outage(
        (url) => createCache({ store: fast(url), fallback: new SqliteStore({ path: path.join(dir, 'mirror.db') }), fallbackMode: 'mirror' }),
        () => (EXPRESS_VERSIONS[1] as (typeof EXPRESS_VERSIONS)[number]).express(),
        'await helper',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('never lost: Redis frozen while a write invalidates, with L1', () => {
  test('no old answer once Redis is back', async () => {
    const server = await startRedisServer();
    try {
      const cache = createCache({ store: new RedisStore({ url: server.url, operationTimeoutMs: 100 }), l1: {} });
      cache.on('error', () => undefined);
      await (cache.store as unknown as { ready(): Promise<void> }).ready();
      const rows = new Map([['1', 1]]);
      const app = characterApp(() => (EXPRESS_VERSIONS[0] as (typeof EXPRESS_VERSIONS)[number]).express(), cache, rows, 'await helper');
      await request(app).get('/characters/1');
      expect((await request(app).get('/characters/1')).headers['x-cache']).toBe('HIT');
      process.kill(server.pid, 'SIGSTOP');
      let old = 0;
      try {
        const written = await request(app).put('/characters/1');
        expect(written.body.pending).toBe(true);
        // During the freeze: the L1 copy is not served (the default maxStaleMs is 0).
        for (let i = 0; i < 5; i++) if ((await request(app).get('/characters/1')).body.version !== 2) old++;
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      const until = Date.now() + 3_000;
      while (Date.now() < until) {
        if ((await request(app).get('/characters/1')).body.version !== 2) old++;
        await sleep(20);
      }
      expect(old).toBe(0);
      await cache.close();
    } finally {
      await server.stop();
    }
  });
});

describe('the L1 tier keeps soft marks and the write guard', () => {
  test('a soft invalidation with l1 answers the old value once at once and refreshes once', async () => {
    const client = testRedisClient();
    const cache = createCache({ store: new RedisStore({ client }), l1: {}, bus: false });
    let loads = 0;
    let release: () => void = () => undefined;
    const loader = async (): Promise<string> => {
      loads++;
      if (loads > 1) await new Promise<void>((resolve) => (release = resolve));
      return `v${loads}`;
    };
    expect(await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })).toBe('v1');
    expect(await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })).toBe('v1');
    expect(await invalidateCharacterCache('1', { soft: true, cache })).toEqual({ removed: 1, pending: false });
    // Marked, not removed: the entry is still in Redis.
    expect(await client.exists('character:1')).toBe(1);
    // Answered at once from the stale entry while the one refresh waits on its gate.
    expect(await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })).toBe('v1');
    // The one refresh starts in the background (after taking the fill lock in Redis).
    for (const until = Date.now() + 5_000; loads < 2 && Date.now() < until; ) await sleep(5);
    expect(await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })).toBe('v1');
    expect(loads).toBe(2);
    release();
    const until = Date.now() + 5_000;
    while ((await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })) !== 'v2' && Date.now() < until) await sleep(10);
    expect(await cache.wrap('character:1', loader, { ttl: 300, staleWhileRevalidate: 60 })).toBe('v2');
    expect(loads).toBe(2);
    await cache.close();
    client.disconnect();
  });

  test('a load on B that began before A invalidated is not written back through B’s L1', async () => {
    const prefix = `guard:${Math.random().toString(36).slice(2)}:`;
    const clientA = testRedisClient({ keyPrefix: prefix });
    const clientB = newRedis(testRedisUrl(), { keyPrefix: prefix });
    const a = createCache({ store: new RedisStore({ client: clientA }), l1: {}, bus: false });
    const b = createCache({ store: new RedisStore({ client: clientB }), l1: {}, bus: false });
    let stale = 0;
    for (let round = 0; round < 20; round++) {
      await a.delete('character:1');
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const loading = b.wrap('character:1', async () => {
        await gate;
        return 'old';
      });
      await sleep(5);
      await a.invalidateScope('character', '1');
      release();
      expect(await loading).toBe('old');
      if ((await a.get('character:1')) === 'old') stale++;
    }
    expect(stale).toBe(0);
    await Promise.all([a.close(), b.close()]);
    clientA.disconnect();
    clientB.disconnect();
  });
});
