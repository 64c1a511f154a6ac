/**
 * RFC 9111 behaviour of cacheResponse end to end, on Express 4 and 5 with the memory store and
 * Redis: freshness (§4.2), invalidation by unsafe methods (§4.4), revalidation (§4.3) and
 * ranges (RFC 9110 §14). Time is moved by a `Date.now` offset, never waited for.
 */
import type { Express, Request, Response } from 'express';
import { type Cache, type CacheResponseOptions, MemoryStore, cacheResponse, createCache, invalidateOnWrite } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

const COMBOS = STORE_KINDS.flatMap((store) => EXPRESS_VERSIONS.map((version) => ({ store, version, name: `${store.name}, ${version.name}` })));

describe.each(COMBOS)('RFC 9111 on $name', ({ store, version }) => {
  let cache: Cache;
  let server: Running | undefined;
  let calls: number;
  let setKeys: string[];
  let offsetMs: number;

  beforeEach(() => {
    cache = createCache({ store: store.make(), namespace: `rfc${Math.random().toString(36).slice(2)}` });
    calls = 0;
    setKeys = [];
    offsetMs = 0;
    cache.on('set', ({ key }) => setKeys.push(key));
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await server?.close();
    server = undefined;
    await cache.close();
  });

  /** `/r` behind cacheResponse(options) answering with `handler`, plus a storable `/barrier`. */
  async function start(options: CacheResponseOptions, handler: (req: Request, res: Response) => void, setup?: (app: Express) => void): Promise<number> {
    const app = version.express();
    setup?.(app);
    app.get('/r', cacheResponse({ cache, ttl: 60, ...options }), (req, res) => {
      calls++;
      handler(req, res);
    });
    app.get('/barrier', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
      res.send('barrier');
    });
    server = await listen(app);
    return server.port;
  }

  /** Waits until a storable answer is written: writes before it have landed too. */
  async function barrier(port: number): Promise<void> {
    const stored = whenSet(cache);
    await request(port, `/barrier?b=${Math.random()}`);
    await stored;
  }

  /** Requests `/r?q` and reports whether its answer was stored (with the TTL), then asks again. */
  async function storedTtl(port: number, q: string): Promise<number | undefined> {
    setKeys.length = 0;
    const seen: number[] = [];
    const off = cache.on('set', ({ key, ttl }) => {
      if (!key.includes('barrier')) seen.push(ttl);
    });
    await request(port, `/r?${q}`);
    await barrier(port);
    off();
    return seen[0];
  }

  describe('freshness (RFC 9111 §4.2)', () => {
    test.each([
      ['Expires: 0', { expires: '0' }],
      ['a past Expires', { expires: 'Thu, 01 Jan 2015 00:00:00 GMT' }],
      ['an invalid Expires (UTC, not GMT)', { expires: 'Thu, 18 Aug 2050 02:01:18 UTC' }],
      ['max-age=-1', { 'cache-control': 'max-age=-1' }],
      ["max-age='3600'", { 'cache-control': "max-age='3600'" }],
      ['s-maxage=abc beside a valid max-age', { 'cache-control': 's-maxage=abc, max-age=3600' }],
      ['max-age=0', { 'cache-control': 'max-age=0' }],
      ['max-age=60 arriving with Age: 3600', { 'cache-control': 'max-age=60', age: '3600' }],
    ])('%s is never stored under the route TTL', async (_name, headers) => {
      const port = await start({}, (_req, res) => {
        res.set(headers).send('x');
      });
      expect(await storedTtl(port, 'a')).toBeUndefined();
      const again = await request(port, '/r?a');
      expect(again.headers['x-cache']).toBe('UNCACHEABLE');
      expect(calls).toBe(2);
    });

    test('the stored lifetime is the shorter of the route TTL and the origin lifetime less its Age', async () => {
      let headers: Record<string, string> = {};
      const port = await start({ ttl: 60 }, (_req, res) => {
        res.set(headers).send('x');
      });
      headers = { 'cache-control': 'max-age=30' };
      expect(await storedTtl(port, 'a')).toBe(30);
      headers = { 'cache-control': 'max-age=30, s-maxage=10' };
      expect(await storedTtl(port, 'b')).toBe(10);
      headers = { 'cache-control': 'max-age=3600' };
      expect(await storedTtl(port, 'c')).toBe(60);
      headers = { 'cache-control': 'max-age=100', age: '80' };
      expect(await storedTtl(port, 'd')).toBe(20);
      headers = { expires: new Date(Date.now() + 20_500).toUTCString(), date: new Date(Date.now()).toUTCString() };
      expect(await storedTtl(port, 'e')).toBeGreaterThanOrEqual(19);
      expect(await storedTtl(port, 'e2')).toBeLessThanOrEqual(21);
      headers = {};
      expect(await storedTtl(port, 'f')).toBe(60);
    });

    test("ttl: 'origin' stores only answers with an explicit lifetime, for that lifetime", async () => {
      let headers: Record<string, string> = {};
      const port = await start({ ttl: 'origin' }, (_req, res) => {
        res.set(headers).send('x');
      });
      expect(await storedTtl(port, 'a')).toBeUndefined();
      headers = { 'cache-control': 'max-age=7200' };
      expect(await storedTtl(port, 'b')).toBe(7200);
    });

    test('a hit says the Age the answer arrived with plus its time here, and repeats its Date', async () => {
      const date = new Date(Date.now()).toUTCString();
      const port = await start({}, (_req, res) => {
        res.set({ 'cache-control': 'max-age=600', age: '30', date }).send('aged');
      });
      const stored = whenSet(cache);
      const miss = await request(port, '/r');
      await stored;
      expect(miss.headers.age).toBe('30');
      offsetMs = 10_000;
      const hit = await request(port, '/r');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(40);
      expect(Number(hit.headers.age)).toBeLessThan(45);
      expect(hit.headers.date).toBe(date);
      // Past the origin's 600 s, counted from the Age it arrived with: stale.
      offsetMs = 571_000;
      expect((await request(port, '/r')).headers['x-cache']).toBe('MISS');
    });

    test('must-revalidate, no-cache-free s-maxage and proxy-revalidate answers are not served stale on a 5xx', async () => {
      let cc = 'max-age=1, must-revalidate';
      let fail = false;
      const port = await start({ staleIfError: 600 }, (_req, res) => {
        if (fail) res.status(503).send('down');
        else res.set('Cache-Control', cc).send('ok');
      });
      for (const [i, value] of ['max-age=1, must-revalidate', 's-maxage=1', 'max-age=1, proxy-revalidate', 'max-age=1'].entries()) {
        cc = value;
        fail = false;
        offsetMs = i * 10_000;
        const stored = whenSet(cache);
        await request(port, `/r?v=${i}`);
        await stored;
        fail = true;
        offsetMs += 2_000;
        const answer = await request(port, `/r?v=${i}`);
        if (value === 'max-age=1') {
          expect(answer.headers['x-cache']).toBe('STALE');
          expect(answer.body.toString()).toBe('ok');
        } else {
          expect([value, answer.status]).toEqual([value, 503]);
        }
      }
    });
  });

  describe('invalidation by unsafe methods (RFC 9111 §4.4)', () => {
    async function app(options: CacheResponseOptions = {}, extra?: (app: Express) => void): Promise<number> {
      const a = version.express();
      a.use(cacheResponse({ cache, ttl: 60, ...options }));
      a.get('/items', (_req, res) => {
        calls++;
        res.send(`items ${calls}`);
      });
      a.get('/items/1', (_req, res) => {
        calls++;
        res.send(`item ${calls}`);
      });
      a.post('/items', (_req, res) => {
        res.status(201).location('/items/1').send('created');
      });
      a.post('/elsewhere', (_req, res) => {
        res.status(201).location('http://other.example/items/1').send('created');
      });
      a.delete('/items', (_req, res) => {
        res.status(404).send('none');
      });
      a.put('/items', (_req, res) => {
        res.set('Content-Location', '/items/1').send('put');
      });
      extra?.(a);
      server = await listen(a);
      return server.port;
    }

    async function warm(port: number, paths: string[]): Promise<void> {
      for (const path of paths) {
        const stored = whenSet(cache);
        await request(port, path);
        await stored;
        expect((await request(port, path)).headers['x-cache']).toBe('HIT');
      }
    }

    test('a 2xx POST invalidates its path (every query string) and a same-origin Location before it answers', async () => {
      const port = await app();
      await warm(port, ['/items', '/items?page=2', '/items/1']);
      const post = await request(port, '/items', { method: 'POST' });
      expect(post.status).toBe(201);
      // Asked right after the POST's answer arrived: the invalidation was done before it was sent.
      expect((await request(port, '/items')).headers['x-cache']).toBe('MISS');
      expect((await request(port, '/items?page=2')).headers['x-cache']).toBe('MISS');
      expect((await request(port, '/items/1')).headers['x-cache']).toBe('MISS');
    });

    test('Content-Location counts; another origin in Location and a failed write invalidate nothing', async () => {
      const port = await app();
      await warm(port, ['/items', '/items/1']);
      await request(port, '/elsewhere', { method: 'POST' });
      await request(port, '/items', { method: 'DELETE' });
      expect((await request(port, '/items')).headers['x-cache']).toBe('HIT');
      expect((await request(port, '/items/1')).headers['x-cache']).toBe('HIT');
      await request(port, '/items', { method: 'PUT' });
      expect((await request(port, '/items')).headers['x-cache']).toBe('MISS');
      expect((await request(port, '/items/1')).headers['x-cache']).toBe('MISS');
    });

    test('invalidateOnUnsafe: false leaves the cache alone', async () => {
      const port = await app({ invalidateOnUnsafe: false });
      await warm(port, ['/items']);
      await request(port, '/items', { method: 'POST' });
      expect((await request(port, '/items')).headers['x-cache']).toBe('HIT');
    });

    test('a cached GET on app.route(path) covers the route’s PUT; invalidateOnWrite() covers a separate route', async () => {
      const a = version.express();
      a.route('/doc')
        .get(cacheResponse({ cache, ttl: 60 }), (_req, res) => {
          calls++;
          res.send(`doc ${calls}`);
        })
        .put((_req, res) => {
          res.send('saved');
        });
      a.get('/note', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
        calls++;
        res.send(`note ${calls}`);
      });
      a.patch('/note', invalidateOnWrite({ cache }), (_req, res) => {
        res.status(204).end();
      });
      server = await listen(a);
      const { port } = server;
      await warm(port, ['/doc', '/doc?x=1', '/note']);
      expect((await request(port, '/doc', { method: 'PUT' })).body.toString()).toBe('saved');
      expect((await request(port, '/doc')).headers['x-cache']).toBe('MISS');
      expect((await request(port, '/doc?x=1')).headers['x-cache']).toBe('MISS');
      expect((await request(port, '/note')).headers['x-cache']).toBe('HIT');
      expect((await request(port, '/note', { method: 'PATCH' })).status).toBe(204);
      expect((await request(port, '/note')).headers['x-cache']).toBe('MISS');
    });

    test('invalidateOnWrite rejects unknown options', () => {
      expect(() => invalidateOnWrite({ cahce: cache } as never)).toThrow(/cahce/);
    });
  });

  describe('revalidation (RFC 9111 §4.3)', () => {
    test('a stale entry with an ETag is revalidated: the handler’s 304 refreshes it and the client gets the stored body', async () => {
      const seen: Array<string | undefined> = [];
      const port = await start({}, (req, res) => {
        seen.push(req.headers['if-none-match']);
        res.set('Cache-Control', 'max-age=1').json({ v: 1 });
      });
      const stored = whenSet(cache);
      const first = await request(port, '/r');
      await stored;
      offsetMs = 5_000;
      const refreshed = whenSet(cache);
      const second = await request(port, '/r');
      await refreshed;
      expect(second.status).toBe(200);
      expect(second.body.toString()).toBe('{"v":1}');
      expect(seen).toEqual([undefined, first.headers.etag]);
      // Freshened: a hit again, for the new lifetime.
      const third = await request(port, '/r');
      expect(third.headers['x-cache']).toBe('HIT');
      expect(calls).toBe(2);
    });

    test('with Last-Modified only, the handler gets If-Modified-Since (not the cache’s own ETag) and its 304 counts', async () => {
      const lastModified = 'Wed, 01 Jan 2020 00:00:00 GMT';
      const seen: Array<[string | undefined, string | undefined]> = [];
      const port = await start(
        {},
        (req, res) => {
          seen.push([req.headers['if-none-match'], req.headers['if-modified-since']]);
          res.set({ 'Cache-Control': 'max-age=1', 'Last-Modified': lastModified });
          if (req.fresh) res.status(304).end();
          else res.send('by date');
        },
        (app) => app.set('etag', false),
      );
      const stored = whenSet(cache);
      await request(port, '/r');
      await stored;
      offsetMs = 5_000;
      const refreshed = whenSet(cache);
      const second = await request(port, '/r');
      await refreshed;
      expect([second.status, second.body.toString()]).toEqual([200, 'by date']);
      expect(seen).toEqual([
        [undefined, undefined],
        [undefined, lastModified],
      ]);
      expect((await request(port, '/r')).headers['x-cache']).toBe('HIT');
    });

    test('a client’s own condition is answered from the freshened entry', async () => {
      const port = await start({}, (_req, res) => {
        res.set('Cache-Control', 'max-age=1').json({ v: 1 });
      });
      const stored = whenSet(cache);
      const first = await request(port, '/r');
      await stored;
      offsetMs = 5_000;
      const second = await request(port, '/r', { headers: { 'if-none-match': String(first.headers.etag) } });
      expect(second.status).toBe(304);
      expect(second.body.length).toBe(0);
    });

    test('a 304 is only ever made over a 2xx: a stored 404 with If-None-Match: * is a 404', async () => {
      const port = await start({ statuses: [200, 404] }, (_req, res) => {
        res.status(404).set('ETag', '"gone"').send('missing');
      });
      const miss = await request(port, '/r', { headers: { 'if-none-match': '*' } });
      expect(miss.status).toBe(404);
      await barrier(port);
      const hit = await request(port, '/r', { headers: { 'if-none-match': '*' } });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.status).toBe(404);
      expect(hit.body.toString()).toBe('missing');
    });
  });

  describe('ranges (RFC 9110 §14)', () => {
    async function stored(): Promise<{ port: number; etag: string }> {
      const port = await start({}, (_req, res) => {
        res.set('ETag', '"v1"').type('text/plain').send('0123456789');
      });
      const written = whenSet(cache);
      await request(port, '/r');
      await written;
      return { port, etag: '"v1"' };
    }

    test('one byte range of a stored 200 is a 206 from the stored body; past the end a 416', async () => {
      const { port } = await stored();
      const part = await request(port, '/r', { headers: { range: 'bytes=2-4' } });
      expect(part.status).toBe(206);
      expect(part.body.toString()).toBe('234');
      expect(part.headers['content-range']).toBe('bytes 2-4/10');
      const suffix = await request(port, '/r', { headers: { range: 'bytes=-3' } });
      expect([suffix.status, suffix.body.toString()]).toEqual([206, '789']);
      const beyond = await request(port, '/r', { headers: { range: 'bytes=20-' } });
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe('bytes */10');
      expect(calls).toBe(1);
    });

    test('If-Range: the stored ETag lets the range apply, another one gets the whole body', async () => {
      const { port, etag } = await stored();
      const match = await request(port, '/r', { headers: { range: 'bytes=0-1', 'if-range': etag } });
      expect([match.status, match.body.toString()]).toEqual([206, '01']);
      const other = await request(port, '/r', { headers: { range: 'bytes=0-1', 'if-range': '"v0"' } });
      expect([other.status, other.body.toString()]).toEqual([200, '0123456789']);
    });
  });
});

describe.each(EXPRESS_VERSIONS)('invalidation by a write is done before its answer leaves ($name)', (version) => {
  /** A MemoryStore whose tag deletes wait for the test to let them through. */
  class GatedStore extends MemoryStore {
    gate: Promise<void> | undefined;
    entered: (() => void) | undefined;
    override async deleteTags(tags: readonly string[]): Promise<number> {
      this.entered?.();
      await this.gate;
      return super.deleteTags(tags);
    }
  }

  test('the POST answer is held until the invalidation resolves', async () => {
    const store = new GatedStore();
    const cache = createCache({ store });
    const app = version.express();
    app.use(cacheResponse({ cache, ttl: 60 }));
    app.get('/items', (_req, res) => void res.send('items'));
    app.post('/items', (_req, res) => void res.status(201).send('created'));
    const server = await listen(app);
    try {
      const stored = whenSet(cache);
      await request(server.port, '/items');
      await stored;
      let open = (): void => undefined;
      store.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const entered = new Promise<void>((resolve) => {
        store.entered = resolve;
      });
      let answered = false;
      const post = request(server.port, '/items', { method: 'POST' }).then((answer) => {
        answered = true;
        return answer;
      });
      await entered;
      // The handler has answered and the invalidation is under way: nothing may reach the client yet.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toBe(false);
      open();
      expect((await post).status).toBe(201);
      expect((await request(server.port, '/items')).headers['x-cache']).toBe('MISS');
    } finally {
      await server.close();
      await cache.close();
    }
  });
});
