import request from 'supertest';
import { RedisStore, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { type RedisServer, startRedisServer } from '../helpers/redis-server';

describe('cacheResponse when Redis goes away', () => {
  let server: RedisServer;
  afterEach(async () => {
    await server?.stop();
  });

  test.each(EXPRESS_VERSIONS)('$name: requests are answered 200 by the origin after redis-server is stopped, and it recovers', async ({ create }) => {
    // A private server: this test kills it, which must not touch the run's shared one.
    server = await startRedisServer();
    const store = new RedisStore({ url: server.url, operationTimeoutMs: 500 });
    await store.ready();
    const cache = createCache({ store, breaker: { failureThreshold: 3, coolDownMs: 100 } });
    const errors: string[] = [];
    const transitions: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    cache.on('degraded', () => transitions.push('degraded'));
    cache.on('recovered', () => transitions.push('recovered'));
    let origin = 0;
    const app = create();
    app.get('/data', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
      origin++;
      res.json({ origin });
    });

    expect((await request(app).get('/data')).headers['x-cache']).toBe('MISS');
    for (let i = 0; i < 50 && cache.stats().sets < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await request(app).get('/data')).headers['x-cache']).toBe('HIT');

    await server.stop();
    const during = await Promise.all(Array.from({ length: 20 }, (_, i) => request(app).get(`/data?i=${i}`)));
    expect(during.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(during.every((res) => res.headers['x-cache'] === 'MISS')).toBe(true);
    expect(origin).toBe(21);
    // The first failures are reported one by one; then the breaker opens and Redis is skipped.
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(transitions).toEqual(['degraded']);

    // Same port again: the client reconnects by itself, a probe closes the breaker, and the cache fills again.
    server = await startRedisServer({ port: server.port });
    await store.ready(10_000);
    let cacheHeader: string | undefined;
    for (let i = 0; i < 100 && cacheHeader !== 'HIT'; i++) {
      cacheHeader = (await request(app).get('/data')).headers['x-cache'];
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(cacheHeader).toBe('HIT');
    expect(transitions).toEqual(['degraded', 'recovered']);
    await cache.close();
  });
});
