import type { Request, Response } from 'express';
import { cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(() => destroyAgent());

describe.each(EXPRESS_VERSIONS)('capture on $name', ({ express }) => {
  test('a handler that reuses its buffer after write() still gets its own bytes stored and replayed', async () => {
    const cache = createCache();
    const app = express();
    app.get('/reuse', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
      const buffer = Buffer.from('aaaa');
      res.write(buffer);
      await new Promise((resolve) => setImmediate(resolve));
      buffer.fill('b');
      res.end(buffer);
    });
    const running = await listen(app);
    try {
      const written = whenSet(cache);
      expect((await request(running.port, '/reuse')).body.toString()).toBe('aaaabbbb');
      await written;
      const hit = await request(running.port, '/reuse');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.toString()).toBe('aaaabbbb');
    } finally {
      await running.close();
      await cache.close();
    }
  });
});
