import type { Request, Response } from 'express';
import { type Cache, type CacheEventName, cacheResponse, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request } from './helpers';

const OUTCOMES = ['hit', 'miss', 'stale', 'uncacheable', 'bypass', 'limited', 'not-modified'] as const satisfies readonly CacheEventName[];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

describe.each(EXPRESS_VERSIONS)('one outcome per answer on $name', ({ express }) => {
  describe.each(STORE_KINDS)('$name', (kind) => {
    let cache: Cache;
    let server: Running;
    let seen: string[];
    let started: number;
    let gate: Promise<void>;
    let open: () => void;

    beforeEach(async () => {
      cache = createCache({ store: kind.make(), namespace: `outcomes-${Math.random().toString(36).slice(2)}` });
      seen = [];
      started = 0;
      gate = Promise.resolve();
      open = () => undefined;
      for (const name of OUTCOMES) cache.on(name, () => seen.push(name));
      const app = express();
      app.get('/plain', cacheResponse({ cache, ttl: 60 }), (_req: Request, res: Response) => res.send('plain'));
      app.get('/vary', cacheResponse({ cache, ttl: 60 }), (req: Request, res: Response) => {
        res.set('Vary', 'Accept-Language').send(String(req.headers['accept-language']));
      });
      app.get('/stale', cacheResponse({ cache, ttl: 0.2, staleWhileRevalidate: 60, backgroundRefresh: false }), async (_req: Request, res: Response) => {
        started++;
        await gate;
        res.send('fresh');
      });
      app.get('/limited', cacheResponse({ cache, ttl: 60, limiter: { maxPerWindow: 1, windowMs: 60_000 } }), (req: Request, res: Response) => {
        res.send(String(req.query.n));
      });
      app.get('/cookie', cacheResponse({ cache, ttl: 60 }), (_req: Request, res: Response) => res.cookie('a', 'b').send('personal'));
      server = await listen(app);
    });
    afterEach(async () => {
      await server.close();
      await cache.close();
    });

    /** Sends one request and waits until exactly one more outcome was reported for it. */
    async function one(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; outcome: string | undefined }> {
      const before = seen.length;
      const answer = await request(server.port, path, { headers, method });
      for (let i = 0; i < 2_000 && seen.length === before; i++) await sleep(5);
      await sleep(30); // a second outcome for the same answer would be a bug: give it time to show
      expect(seen.length - before).toBe(1);
      return { status: answer.status, outcome: seen[seen.length - 1] };
    }

    test('GET, HEAD, Vary, 304, stale, limited, uncacheable and bypassed answers each report exactly one outcome', async () => {
      expect((await one('/plain')).outcome).toBe('miss');
      expect((await one('/plain')).outcome).toBe('hit');
      expect((await one('/plain', {}, 'HEAD')).outcome).toBe('hit');
      const etag = String((await request(server.port, '/plain')).headers.etag);
      seen.pop();
      expect(await one('/plain', { 'if-none-match': etag })).toEqual({ status: 304, outcome: 'not-modified' });
      expect((await one('/vary', { 'accept-language': 'en' })).outcome).toBe('miss');
      expect((await one('/vary', { 'accept-language': 'en' })).outcome).toBe('hit');
      expect((await one('/vary', { 'accept-language': 'fr' })).outcome).toBe('miss');
      expect((await one('/vary', { 'accept-language': 'fr' }, 'HEAD')).outcome).toBe('hit');
      expect((await one('/limited?n=1')).outcome).toBe('miss');
      expect(await one('/limited?n=2')).toEqual({ status: 429, outcome: 'limited' });
      expect((await one('/cookie')).outcome).toBe('uncacheable');
      expect((await one('/plain', { authorization: 'Bearer x' })).outcome).toBe('bypass');
      expect((await one('/stale')).outcome).toBe('miss');
      await sleep(300);
      // The first request after expiry revalidates (a miss); one arriving meanwhile is served stale.
      const before = seen.length;
      gate = new Promise((resolve) => {
        open = resolve;
      });
      const revalidating = request(server.port, '/stale');
      while (started < 2) await sleep(5); // the revalidating handler is running
      const stale = await request(server.port, '/stale');
      open();
      expect(stale.headers['x-cache']).toBe('STALE');
      expect((await revalidating).headers['x-cache']).toBe('MISS');
      for (let i = 0; i < 2_000 && seen.length < before + 2; i++) await sleep(5);
      await sleep(30);
      expect(seen.slice(before).sort()).toEqual(['miss', 'stale']);
    });
  });
});
