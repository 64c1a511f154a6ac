// close() right after a miss waits (bounded) for the work the answer started: the entry's write
// and the release of the fill lock, on a real Redis, on Express 4 and 5. Closing is started from
// the response's 'finish' event, when the answer has left and the write is certainly in flight.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { type CacheEvents, RedisStore, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { newRedis, testRedisUrl } from '../helpers/redis';

describe.each(EXPRESS_VERSIONS)('close() after a miss, on $name', ({ create }) => {
  test('the entry is written, the lock released, and nothing fails', async () => {
    const prefix = `test:${randomBytes(4).toString('hex')}:`;
    const raw = newRedis(testRedisUrl());
    const client = newRedis(testRedisUrl(), { keyPrefix: prefix });
    const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }) });
    const errors: Array<CacheEvents['error']> = [];
    cache.on('error', (error) => errors.push(error));
    let closing: Promise<void> | undefined;
    const app = create();
    app.get('/characters/:id', cacheResponse({ cache, keyPrefix: 'character' }), (req, res) => {
      res.on('finish', () => {
        closing = cache.close();
      });
      res.json({ id: req.params.id });
    });
    try {
      const answer = await request(app).get('/characters/1');
      expect(answer.headers['x-cache']).toBe('MISS');
      expect(closing).toBeDefined();
      await closing;
      expect(errors.map((e) => `${e.operation}: ${e.error.message}`)).toEqual([]);
      const keys = await raw.keys(`${prefix}*`);
      expect(keys.filter((key) => key.includes('__lock__'))).toEqual([]);
      expect(keys.filter((key) => key.startsWith(`${prefix}api:character:`))).toHaveLength(1);
    } finally {
      await cache.close();
      const left = await raw.keys(`${prefix}*`);
      if (left.length > 0) await raw.del(...left);
      await raw.quit();
      await client.quit().catch(() => undefined);
    }
  });
});
