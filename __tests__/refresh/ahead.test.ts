import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import request from 'supertest';
import { type Cache, InvalidOptionError, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { refreshes, sleep } from './helpers';

afterAll(closeStoreClients);

/** How long the steady stream of hits lasts, in ms: three lifetimes of a 1 s TTL. */
const STREAM_MS = 3_000;

describe.each(STORE_KINDS)('refreshAhead on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `ahead-${randomBytes(4).toString('hex')}` });
  });
  afterEach(() => cache.close());

  test.each(EXPRESS_VERSIONS)('a route hit steadily never misses after the first request, and its handler runs about once per TTL ($name)', async (express) => {
    let calls = 0;
    const app = express.create();
    app.get('/charts/top', cacheResponse({ cache, ttl: 1, refreshAhead: 0.3 }), (_req: Request, res: Response) => {
      calls++;
      res.json({ version: calls });
    });
    const seen = refreshes(cache);
    const statuses: string[] = [];
    const end = Date.now() + STREAM_MS;
    while (Date.now() < end) {
      statuses.push(String((await request(app).get('/charts/top')).headers['x-cache']));
      await sleep(20);
    }
    expect(statuses[0]).toBe('MISS');
    expect(statuses.slice(1).filter((status) => status !== 'HIT')).toEqual([]);
    // The stream spans three lifetimes: the first answer plus about one refresh per TTL.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(6);
    expect(seen.every((event) => event.trigger === 'ahead')).toBe(true);
  });

  test('wrap: a key read steadily never misses after the first call, and its loader runs about once per TTL', async () => {
    let loads = 0;
    const misses: string[] = [];
    cache.on('miss', ({ key }) => misses.push(key));
    const end = Date.now() + STREAM_MS;
    while (Date.now() < end) {
      await cache.wrap('charts:top', () => ++loads, { ttl: 1, refreshAhead: 0.3 });
      await sleep(20);
    }
    expect(misses).toHaveLength(1);
    expect(loads).toBeGreaterThanOrEqual(3);
    expect(loads).toBeLessThanOrEqual(6);
  });
});

test('cacheResponse refreshAhead outside [0, 1) throws InvalidOptionError naming it', () => {
  expect(() => cacheResponse({ refreshAhead: 1 })).toThrow(InvalidOptionError);
  expect(() => cacheResponse({ refreshAhead: -0.1 })).toThrow(/refreshAhead/);
  expect(() => cacheResponse({ backgroundRefresh: 'yes' as unknown as boolean })).toThrow(/backgroundRefresh/);
});
