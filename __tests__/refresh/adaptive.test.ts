import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { type Cache, InvalidOptionError, cacheResponse, createCache, refreshRoutes } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { viewEntry } from '../../lib/metrics/entry-view';
import { until } from './helpers';

afterAll(closeStoreClients);

describe.each(STORE_KINDS)('adaptiveTtl on $name', (kind) => {
  let cache: Cache;
  let ttls: number[];
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `adaptive-${randomBytes(4).toString('hex')}` });
    ttls = [];
    cache.on('set', ({ ttl }) => ttls.push(ttl));
  });
  afterEach(() => cache.close());

  test.each(EXPRESS_VERSIONS)('a route: the TTL doubles over unchanged refreshes up to max, drops to min after a change ($name)', async (express) => {
    let version = 1;
    const app = express.create();
    app.get('/charts/top', cacheResponse({ cache, ttl: 1, adaptiveTtl: { min: 1, max: 8 } }), (_req: Request, res: Response) => {
      res.json({ version });
    });
    const refresher = refreshRoutes(app, [{ path: '/charts/top', every: '50ms' }], { cache, host: '127.0.0.1' });
    await until(() => ttls.length >= 6, 'six refreshes');
    expect(ttls.slice(0, 6)).toEqual([1, 2, 4, 8, 8, 8]);
    version = 2;
    const changedAt = ttls.length;
    await until(() => ttls.length >= changedAt + 3, 'refreshes after the change');
    refresher.stop();
    // The refresh that saw the change stores for min, and unchanged ones grow again from there.
    expect(ttls.slice(changedAt, changedAt + 3)).toEqual([1, 2, 4]);
  });

  test('wrap: the TTL doubles over unchanged refreshes up to max, drops to min after a change', async () => {
    let value = 'a';
    const options = { ttl: 1, refreshAhead: 0.99, adaptiveTtl: { min: 1, max: 4 } };
    // Reads until the next refresh is stored (refresh-ahead starts one after 1% of the lifetime).
    const readUntil = (count: number): Promise<void> =>
      until(async () => {
        await cache.wrap('top', () => value, options);
        return ttls.length >= count;
      }, `set ${count}`);
    for (let i = 1; i <= 5; i++) await readUntil(i);
    expect(ttls.slice(0, 5)).toEqual([1, 2, 4, 4, 4]);
    // inspect (the CLI and the dashboard show its view) reports the current TTL.
    const stored = await cache.peek('top', 60_000);
    expect(stored && viewEntry(stored.entry, 'top', 0, -1).ttlMs).toBe(4_000);
    value = 'b';
    const changedAt = ttls.length;
    await readUntil(changedAt + 2);
    expect(ttls.slice(changedAt, changedAt + 2)).toEqual([1, 2]);
  });
});

test('adaptiveTtl bounds are checked, naming the option', () => {
  expect(() => cacheResponse({ adaptiveTtl: { min: 10, max: 5 } })).toThrow(InvalidOptionError);
  expect(() => cacheResponse({ adaptiveTtl: { min: 10, max: 5 } })).toThrow(/adaptiveTtl\.max/);
  expect(() => cacheResponse({ adaptiveTtl: { min: 0, max: 5 } })).toThrow(/adaptiveTtl\.min/);
  expect(() => cacheResponse({ adaptiveTtl: { min: '1m', max: '1h', factor: 1 } })).toThrow(/adaptiveTtl\.factor/);
});
