import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import request from 'supertest';
import { type Cache, cacheResponse, createCache } from '../../lib';
import { EXPRESS_VERSIONS } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { type Gate, gate, sleep, until } from './helpers';

afterAll(closeStoreClients);

// One stale rule for wrap and routes: the stale-while-revalidate window is measured on its own,
// never with the grace (the larger of the two windows), so a longer staleIfError does not
// stretch it.
describe.each(STORE_KINDS)('the stale-while-revalidate window is its own on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `rule-${randomBytes(4).toString('hex')}` });
  });
  afterEach(() => cache.close());

  test('wrap: past staleWhileRevalidate but inside a longer staleIfError, callers wait for the loader', async () => {
    let loads = 0;
    const held: { gate?: Gate } = {};
    const loader = async (): Promise<string> => {
      const mine = ++loads;
      if (held.gate) await held.gate.promise;
      return `v${mine}`;
    };
    const stale: string[] = [];
    cache.on('stale', ({ reason }) => stale.push(reason));
    const options = { ttl: 1, staleWhileRevalidate: 0.2, staleIfError: 60 };
    expect(await cache.wrap('k', loader, options)).toBe('v1');
    await sleep(1_300);
    const opened = (held.gate = gate());
    const first = cache.wrap('k', loader, options);
    await until(() => loads === 2, 'the loader to run');
    const joined = cache.wrap('k', loader, options);
    opened.open();
    expect(await first).toBe('v2');
    expect(await joined).toBe('v2');
    expect(stale).toEqual([]);
  });

  test('wrap: an error inside staleIfError still answers stale', async () => {
    let loads = 0;
    const options = { ttl: 1, staleWhileRevalidate: 0.2, staleIfError: 60 };
    const loader = async (): Promise<string> => {
      loads++;
      if (loads > 1) throw new Error('origin down');
      return 'v1';
    };
    expect(await cache.wrap('k', loader, options)).toBe('v1');
    await sleep(1_300);
    expect(await cache.wrap('k', loader, options)).toBe('v1');
  });

  test.each(EXPRESS_VERSIONS)('cacheResponse ($name): past staleWhileRevalidate but inside a longer staleIfError, the handler answers', async (express) => {
    let calls = 0;
    const app = express.create();
    app.get('/rule', cacheResponse({ cache, ttl: 1, staleWhileRevalidate: 0.2, staleIfError: 60 }), (_req: Request, res: Response) => {
      calls++;
      res.json({ version: calls });
    });
    expect((await request(app).get('/rule')).body.version).toBe(1);
    await sleep(1_300);
    const late = await request(app).get('/rule');
    expect(late.headers['x-cache']).toBe('MISS');
    expect(late.body.version).toBe(2);
  });
});
