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
    const cache = createCache({ store });
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
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
    const during = await Promise.all(Array.from({ length: 20 }, () => request(app).get('/data')));
    expect(during.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(during.every((res) => res.headers['x-cache'] === 'MISS')).toBe(true);
    expect(origin).toBe(21);
    expect(errors.filter((op) => op === 'get').length).toBe(20);

    // Same port again: the client reconnects by itself and the cache fills again.
    server = await startRedisServer({ port: server.port });
    await store.ready(10_000);
    await request(app).get('/data');
    for (let i = 0; i < 50 && cache.stats().sets < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await request(app).get('/data')).headers['x-cache']).toBe('HIT');
    await cache.close();
  });
});
