import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import request from 'supertest';
import { type Cache, InvalidOptionError, cacheResponse, createCache, refreshRoutes } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { type Gate, gate, refreshes, sleep, until } from './helpers';

afterAll(closeStoreClients);

describe.each(STORE_KINDS)('refreshRoutes on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `sched-${randomBytes(4).toString('hex')}` });
  });
  afterEach(() => cache.close());

  test.each(EXPRESS_VERSIONS)('a route refreshed every 200 ms never answers MISS after start-up; close() stops it ($name)', async (express) => {
    let calls = 0;
    const app = express.create();
    const charts = express.create();
    // Mounted under a sub-app: the path is relative to the app handed to refreshRoutes.
    app.use('/charts', charts);
    charts.get('/top', cacheResponse({ cache, ttl: 1 }), (_req: Request, res: Response) => {
      calls++;
      res.json({ version: calls });
    });
    const seen = refreshes(cache);
    const refresher = refreshRoutes(app, [{ path: '/charts/top', every: '200ms' }], { cache, host: '127.0.0.1' });
    await refresher.ready;
    expect(calls).toBe(1);
    const statuses: string[] = [];
    const end = Date.now() + 1_500;
    while (Date.now() < end) {
      statuses.push(String((await request(app).get('/charts/top')).headers['x-cache']));
      await sleep(20);
    }
    expect(statuses.filter((status) => status !== 'HIT')).toEqual([]);
    await until(() => calls >= 4, 'a few scheduled refreshes');
    expect(seen.filter((event) => event.outcome === 'stored').every((event) => event.trigger === 'schedule' && event.key?.includes('api:') === true)).toBe(true);
    const [stats] = refresher.stats();
    expect(stats).toMatchObject({ path: '/charts/top', failed: 0 });
    expect(stats?.stored).toBeGreaterThanOrEqual(3);
    await cache.close();
    const after = calls;
    await sleep(500);
    expect(calls).toBe(after);
  });

  test('a run is skipped while the previous one is running', async () => {
    let calls = 0;
    const held: { gate?: Gate } = {};
    const app = EXPRESS_VERSIONS[0]!.create();
    app.get('/slow', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
      calls++;
      if (held.gate) await held.gate.promise;
      res.json({ version: calls });
    });
    const opened = (held.gate = gate());
    const refresher = refreshRoutes(app, [{ path: '/slow', every: '50ms' }], { cache, host: '127.0.0.1' });
    await until(() => (refresher.stats()[0]?.skipped ?? 0) >= 3, 'runs to be skipped');
    expect(calls).toBe(1);
    opened.open();
    await refresher.ready;
    expect(refresher.stats()[0]?.stored).toBeGreaterThanOrEqual(1);
    refresher.stop();
  });

  test('invalid routes throw InvalidOptionError naming the option', () => {
    const app = EXPRESS_VERSIONS[0]!.create();
    expect(() => refreshRoutes(app, [{ path: 'http://x/charts', every: '1h' }], { cache })).toThrow(InvalidOptionError);
    expect(() => refreshRoutes(app, [{ path: '/charts', every: 0 }], { cache })).toThrow(/"every"/);
    expect(() => refreshRoutes(app, [{ path: '/charts', every: '1h' }], { cache, hots: 'x' } as never)).toThrow(/host/);
  });
});
