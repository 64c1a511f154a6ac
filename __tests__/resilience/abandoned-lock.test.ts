import express from 'express';
import { RedisStore, cacheResponse, createCache } from '../../lib';
import { destroyAgent, listen, request } from '../http/helpers';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';

// Issue 25, row 8: a fill lock whose release was lost in an outage (here: Redis frozen while the
// leader finished, the breaker open, so the release was skipped) stayed in Redis for its whole TTL, and after recovery every request for that
// URL waited `waitMs` for an owner that had long given up. No request may wait on such a lock.

const WAIT_MS = 4_000;

let server: RedisServer | undefined;
const servers: RedisServer[] = [];
afterAll(async () => {
  destroyAgent();
  for (const started of servers) {
    process.kill(started.pid, 'SIGCONT');
    await started.stop();
  }
});

test('after an outage, the next request for a URL does not wait out the lock its own process gave up', async () => {
  server = await startRedisServer();
  servers.push(server);
  const frozen = server;
  const store = new RedisStore({ url: frozen.url, operationTimeoutMs: 100 });
  const cache = createCache({ store, lock: { ttlMs: 30_000, waitMs: WAIT_MS, pollMs: 20 }, breaker: { failureThreshold: 1, probeIntervalMs: 20, coolDownMs: 50 } });
  const events: string[] = [];
  cache.on('error', () => undefined);
  cache.on('degraded', () => void events.push('degraded'));
  cache.on('recovered', () => void events.push('recovered'));
  const until = async (what: string): Promise<void> => {
    for (let waited = 0; !events.includes(what) && waited < 500; waited++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toContain(what);
  };
  let originCalls = 0;
  let freezeNext = true;
  const app = express();
  app.get('/x', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
    originCalls++;
    // The outage starts while the leader holds its fill lock in Redis.
    if (freezeNext) process.kill(frozen.pid, 'SIGSTOP');
    freezeNext = false;
    setTimeout(() => res.send(`answer ${originCalls}`), 20);
  });
  const running = await listen(app);
  try {
    expect(await store.ready()).toBe(true);
    const first = await request(running.port, '/x');
    expect(first.status).toBe(200);
    // The entry write times out against the frozen server and opens the breaker; the lock's
    // release is then skipped ("it expires there by itself").
    await until('degraded');
    process.kill(frozen.pid, 'SIGCONT');
    await until('recovered');
    // The lock is still in Redis: nobody holds it, but it has 30 s to live.
    expect((await store.client.keys('*__lock__*')).length).toBe(1);

    const started = Date.now();
    const second = await request(running.port, '/x');
    const elapsedMs = Date.now() - started;
    expect(second.status).toBe(200);
    expect(second.body.toString()).toBe('answer 2');
    expect(originCalls).toBe(2);
    // Waiting out the lock takes WAIT_MS (4 s); taking it over takes one origin call (20 ms).
    expect(elapsedMs).toBeLessThan(WAIT_MS / 2);
  } finally {
    if (server !== undefined) process.kill(server.pid, 'SIGCONT');
    await running.close();
    await cache.close();
  }
});

test('a lock whose acquisition timed out, and which Redis took once it answered again, is not waited for', async () => {
  const frozen = await startRedisServer();
  servers.push(frozen);
  const store = new RedisStore({ url: frozen.url, operationTimeoutMs: 100 });
  // The breaker stays closed: only the lock's own timeout is at play here.
  const cache = createCache({ store, lock: { ttlMs: 30_000, waitMs: WAIT_MS, pollMs: 20 }, breaker: { failureThreshold: 1_000 } });
  cache.on('error', () => undefined);
  let originCalls = 0;
  const app = express();
  app.get('/y', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
    originCalls++;
    // The first answer is not stored, so only the lock is left behind in Redis.
    if (originCalls === 1) res.set('Cache-Control', 'no-store');
    res.send(`answer ${originCalls}`);
  });
  const running = await listen(app);
  try {
    expect(await store.ready()).toBe(true);
    process.kill(frozen.pid, 'SIGSTOP');
    // Its lookup and its lock time out (the fill goes ahead), but both commands sit on the socket.
    expect((await request(running.port, '/y')).body.toString()).toBe('answer 1');
    process.kill(frozen.pid, 'SIGCONT');
    for (let waited = 0; waited < 300; waited++) {
      if ((await store.client.keys('*__lock__*')).length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Redis ran the timed-out SET NX when it woke: a lock whose token nobody has.
    expect((await store.client.keys('*__lock__*')).length).toBe(1);

    const started = Date.now();
    const second = await request(running.port, '/y');
    const elapsedMs = Date.now() - started;
    expect(second.body.toString()).toBe('answer 2');
    expect(elapsedMs).toBeLessThan(WAIT_MS / 2);
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
    await running.close();
    await cache.close();
  }
});
