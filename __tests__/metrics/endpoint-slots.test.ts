import type { Request, Response } from 'express';
import { Registry } from 'prom-client';
import { MemoryStore, cacheResponse, createCache } from '../../lib';
import { UNMATCHED_ENDPOINT } from '../../lib/http/endpoint-label';
import { prometheusMetrics } from '../../lib/metrics/prometheus';
import { EXPRESS_VERSIONS, destroyAgent, listen, request } from '../http/helpers';

afterAll(destroyAgent);

// Issue 25, row 3: with `app.use(cacheResponse())`, 200 invented paths took every endpoint row
// for the life of the process, and real endpoints were then counted as `(other)` in stats(),
// the dashboard and Prometheus. Unmatched paths never take a row; endpoints come from the route.
describe.each(EXPRESS_VERSIONS)('endpoint rows with app.use(cacheResponse()) on $name', ({ express }) => {
  test('invented paths share one row; real routes get theirs, named by the route, hits included', async () => {
    const cache = createCache({ store: new MemoryStore() });
    const register = new Registry();
    const metrics = prometheusMetrics({ cache, register });
    const app = express();
    app.use(cacheResponse({ cache, ttl: 60 }));
    app.get('/users/:id', (req: Request, res: Response) => void res.json({ id: req.params.id }));
    const running = await listen(app);
    try {
      for (let i = 0; i < 250; i++) expect((await request(running.port, `/invented-${i}`)).status).toBe(404);
      for (let i = 0; i < 5; i++) {
        await request(running.port, `/users/${i}`);
        // Wait for the write, then ask again: a hit, reported under the route learned from the miss.
        for (let waited = 0; cache.stats().sets <= i && waited < 200; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
        expect((await request(running.port, `/users/${i}`)).headers['x-cache']).toBe('HIT');
      }
      const { endpoints } = cache.stats();
      expect(Object.keys(endpoints).sort()).toEqual([UNMATCHED_ENDPOINT, '/users/:id'].sort());
      expect(endpoints['/users/:id']).toMatchObject({ misses: 5, hits: 5 });
      expect(endpoints[UNMATCHED_ENDPOINT]?.uncacheable).toBe(250);
      const text = await register.metrics();
      expect(text).toContain('http_cache_requests_total{endpoint="/users/:id",outcome="hit"} 5');
      expect(text).not.toContain('invented');
    } finally {
      metrics.close();
      await running.close();
      await cache.close();
    }
  });
});
