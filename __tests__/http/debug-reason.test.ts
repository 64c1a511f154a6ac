import type { Request, Response } from 'express';
import { cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS, destroyAgent, listen, request } from './helpers';

afterAll(() => destroyAgent());

describe.each(EXPRESS_VERSIONS)('X-Cache-Reason on $name', ({ express }) => {
  test('debug: true names why an answer was not cached; without it nothing is said', async () => {
    const cache = createCache();
    const app = express();
    app.get('/cookie', cacheResponse({ cache, debug: true }), (_req: Request, res: Response) => res.cookie('a', 'b').send('personal'));
    app.get('/private', cacheResponse({ cache, debug: true }), (_req: Request, res: Response) => res.set('Cache-Control', 'private').send('mine'));
    app.get('/quiet', cacheResponse({ cache }), (_req: Request, res: Response) => res.cookie('a', 'b').send('personal'));
    app.get('/ok', cacheResponse({ cache, debug: true }), (_req: Request, res: Response) => res.send('shared'));
    const running = await listen(app);
    try {
      expect((await request(running.port, '/cookie')).headers['x-cache-reason']).toBe('set-cookie');
      expect((await request(running.port, '/private')).headers['x-cache-reason']).toBe('private');
      expect((await request(running.port, '/ok', { headers: { authorization: 'Bearer x' } })).headers['x-cache-reason']).toBe('authorization');
      expect((await request(running.port, '/ok')).headers['x-cache-reason']).toBeUndefined();
      expect((await request(running.port, '/quiet')).headers['x-cache-reason']).toBeUndefined();
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('EXPRESS_CACHE_KIT_DEBUG=1 turns it on for routes that do not say', async () => {
    process.env.EXPRESS_CACHE_KIT_DEBUG = '1';
    const cache = createCache();
    const app = express();
    try {
      app.get('/cookie', cacheResponse({ cache }), (_req: Request, res: Response) => res.cookie('a', 'b').send('personal'));
    } finally {
      delete process.env.EXPRESS_CACHE_KIT_DEBUG;
    }
    const running = await listen(app);
    try {
      expect((await request(running.port, '/cookie')).headers['x-cache-reason']).toBe('set-cookie');
    } finally {
      await running.close();
      await cache.close();
    }
  });
});
