import type { Express, Request, Response } from 'express';
import { type Cache, InvalidOptionError, type CacheResponseOptions, cacheResponse, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

const COMBOS = STORE_KINDS.flatMap((store) => EXPRESS_VERSIONS.map((version) => ({ store, version, name: `${store.name}, ${version.name}` })));

describe.each(COMBOS)('cacheResponse on $name', ({ store, version }) => {
  let cache: Cache;
  let server: Running | undefined;
  let calls: number;
  let setKeys: string[];

  beforeEach(() => {
    cache = createCache({ store: store.make(), namespace: 'http' });
    calls = 0;
    setKeys = [];
    cache.on('set', ({ key }) => setKeys.push(key));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await cache.close();
  });

  /** Starts an app whose `/r` route is `handler` behind cacheResponse(options), plus a storable `/barrier`. */
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

  /** Waits for a storable answer to be written: writes before it have landed too. */
  async function barrier(port: number): Promise<void> {
    const stored = whenSet(cache);
    await request(port, `/barrier?b=${Math.random()}`);
    await stored;
  }

  test('a miss is stored and the hit replays the same bytes with X-Cache, Age and an ETag', async () => {
    const port = await start({}, (_req, res) => {
      res.type('text/plain').send('hello');
    });
    const stored = whenSet(cache);
    const first = await request(port, '/r');
    await stored;
    const second = await request(port, '/r');
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(second.body.toString()).toBe('hello');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    // Express' default weak ETag is the handler's own and is kept.
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(calls).toBe(1);
  });

  test('without a handler ETag a strong one is computed from the body; If-None-Match answers 304', async () => {
    const port = await start(
      {},
      (_req, res) => {
        res.send('body');
      },
      (app) => app.set('etag', false),
    );
    const stored = whenSet(cache);
    await request(port, '/r');
    await stored;
    const hit = await request(port, '/r');
    const etag = hit.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const notModified = await request(port, '/r', { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.headers['x-cache']).toBe('HIT');
    // Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x"; lists and * work too.
    expect((await request(port, '/r', { headers: { 'if-none-match': `W/${etag}` } })).status).toBe(304);
    expect((await request(port, '/r', { headers: { 'if-none-match': `"zzz", ${etag}` } })).status).toBe(304);
    expect((await request(port, '/r', { headers: { 'if-none-match': '*' } })).status).toBe(304);
    const changed = await request(port, '/r', { headers: { 'if-none-match': '"other"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.toString()).toBe('body');
    expect(calls).toBe(1);
  });

  test('If-Modified-Since answers 304 against Last-Modified, and If-None-Match takes precedence', async () => {
    const lastModified = new Date('2026-01-01T00:00:00Z').toUTCString();
    const port = await start({}, (_req, res) => {
      res.setHeader('Last-Modified', lastModified);
      res.send('dated');
    });
    const stored = whenSet(cache);
    await request(port, '/r');
    await stored;
    const later = new Date('2026-02-01T00:00:00Z').toUTCString();
    const earlier = new Date('2025-12-01T00:00:00Z').toUTCString();
    expect((await request(port, '/r', { headers: { 'if-modified-since': later } })).status).toBe(304);
    expect((await request(port, '/r', { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    expect((await request(port, '/r', { headers: { 'if-modified-since': earlier } })).status).toBe(200);
    expect((await request(port, '/r', { headers: { 'if-modified-since': 'not a date' } })).status).toBe(200);
    const both = await request(port, '/r', { headers: { 'if-modified-since': later, 'if-none-match': '"nope"' } });
    expect(both.status).toBe(200);
    expect(both.headers['x-cache']).toBe('HIT');
  });

  test('HEAD is answered from the GET entry, without a body', async () => {
    const port = await start({}, (_req, res) => {
      res.send('head me');
    });
    const stored = whenSet(cache);
    await request(port, '/r');
    await stored;
    const head = await request(port, '/r', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('7');
    expect(head.body.length).toBe(0);
    expect(calls).toBe(1);
  });

  test.each([
    ['Cache-Control: no-store', (res: Response) => res.set('Cache-Control', 'no-store')],
    ['Cache-Control: private', (res: Response) => res.set('Cache-Control', 'private, max-age=60')],
    ['Cache-Control: no-cache', (res: Response) => res.set('Cache-Control', 'no-cache')],
    ['Vary: *', (res: Response) => res.set('Vary', '*')],
    ['Set-Cookie', (res: Response) => res.cookie('sid', 'user-1')],
    ['status 404', (res: Response) => res.status(404)],
  ])('an answer with %s is never stored', async (_name, decorate) => {
    const port = await start({}, (_req, res) => {
      decorate(res);
      res.send('x');
    });
    await request(port, '/r');
    await barrier(port);
    const again = await request(port, '/r');
    expect(again.headers['x-cache']).toBe('UNCACHEABLE');
    expect(calls).toBe(2);
    expect(setKeys.filter((key) => !key.includes('barrier'))).toEqual([]);
  });

  test('Authorization and Cookie requests bypass the shared entry', async () => {
    const port = await start({}, (req, res) => {
      res.send(`for ${req.headers.authorization ?? req.headers.cookie ?? 'anyone'}`);
    });
    const stored = whenSet(cache);
    await request(port, '/r');
    await stored;
    const alice = await request(port, '/r', { headers: { authorization: 'Bearer alice' } });
    const cookie = await request(port, '/r', { headers: { cookie: 'sid=bob' } });
    expect(alice.headers['x-cache']).toBe('BYPASS');
    expect(alice.body.toString()).toBe('for Bearer alice');
    expect(cookie.headers['x-cache']).toBe('BYPASS');
    expect(cookie.body.toString()).toBe('for sid=bob');
    await barrier(port);
    expect(setKeys.filter((key) => !key.includes('barrier'))).toHaveLength(1);
  });

  test('varyBy covering Authorization gives each user an entry of their own', async () => {
    const port = await start({ varyBy: ['Authorization'] }, (req, res) => {
      res.send(`for ${req.headers.authorization ?? 'anyone'}`);
    });
    for (const user of ['alice', 'bob']) {
      const stored = whenSet(cache);
      const miss = await request(port, '/r', { headers: { authorization: user } });
      await stored;
      expect(miss.headers['x-cache']).toBe('MISS');
    }
    const alice = await request(port, '/r', { headers: { authorization: 'alice' } });
    const bob = await request(port, '/r', { headers: { authorization: 'bob' } });
    expect([alice.headers['x-cache'], bob.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(alice.body.toString()).toBe('for alice');
    expect(bob.body.toString()).toBe('for bob');
    // Cookie is not covered by a header list that only names Authorization.
    expect((await request(port, '/r', { headers: { authorization: 'alice', cookie: 'a=1' } })).headers['x-cache']).toBe('BYPASS');
  });

  test('a varyBy function keys on its result and covers Cookie', async () => {
    const userOf = (req: Request): string => /uid=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'anon';
    const port = await start({ varyBy: userOf }, (req, res) => {
      res.send(`profile of ${userOf(req)}`);
    });
    const stored = whenSet(cache, 2);
    await request(port, '/r', { headers: { cookie: 'uid=ann; theme=dark' } });
    await request(port, '/r', { headers: { cookie: 'uid=ben' } });
    await stored;
    const ann = await request(port, '/r', { headers: { cookie: 'theme=light; uid=ann' } });
    const ben = await request(port, '/r', { headers: { cookie: 'uid=ben' } });
    expect(ann.headers['x-cache']).toBe('HIT');
    expect(ann.body.toString()).toBe('profile of ann');
    expect(ben.body.toString()).toBe('profile of ben');
    expect(calls).toBe(2);
  });

  test('shareAuthenticated serves one shared entry to everyone', async () => {
    const port = await start({ shareAuthenticated: true }, (_req, res) => {
      res.send('same for all');
    });
    const stored = whenSet(cache);
    await request(port, '/r', { headers: { authorization: 'alice' } });
    await stored;
    const bob = await request(port, '/r', { headers: { authorization: 'bob', cookie: 'x=1' } });
    expect(bob.headers['x-cache']).toBe('HIT');
    expect(calls).toBe(1);
  });

  test('Vary: Accept-Language stores and replays each variant separately', async () => {
    const port = await start({}, (req, res) => {
      res.set('Vary', 'Accept-Language');
      res.send(req.headers['accept-language'] === 'fr' ? 'bonjour' : req.headers['accept-language'] === undefined ? 'hi' : 'hello');
    });
    for (const headers of [{ 'accept-language': 'fr' }, { 'accept-language': 'en' }, {}]) {
      const stored = whenSet(cache, 2);
      expect((await request(port, '/r', { headers })).headers['x-cache']).toBe('MISS');
      await stored;
    }
    const fr = await request(port, '/r', { headers: { 'accept-language': 'fr' } });
    const en = await request(port, '/r', { headers: { 'accept-language': 'en' } });
    const none = await request(port, '/r');
    const empty = await request(port, '/r', { headers: { 'accept-language': '' } });
    expect([fr.headers['x-cache'], en.headers['x-cache'], none.headers['x-cache']]).toEqual(['HIT', 'HIT', 'HIT']);
    expect(fr.body.toString()).toBe('bonjour');
    expect(en.body.toString()).toBe('hello');
    expect(none.body.toString()).toBe('hi');
    expect(fr.headers.vary).toBe('Accept-Language');
    // An empty header is not an absent one (RFC 9111 §4.1).
    expect(empty.headers['x-cache']).toBe('MISS');
    expect(calls).toBe(4);
  });

  test('ttlFromCacheControl takes s-maxage over max-age; max-age=0 and answers without a lifetime are not stored', async () => {
    let header = 'public, max-age=30, s-maxage=120';
    const port = await start({ ttlFromCacheControl: true }, (_req, res) => {
      res.set('Cache-Control', header);
      res.send('ttl');
    });
    const stored = whenSet(cache);
    await request(port, '/r?a=1');
    expect((await stored)[0]?.ttl).toBe(120);
    header = 'max-age=45';
    const stored2 = whenSet(cache);
    await request(port, '/r?a=2');
    expect((await stored2)[0]?.ttl).toBe(45);
    header = 'max-age=0';
    setKeys.length = 0;
    await request(port, '/r?a=3');
    await barrier(port);
    expect(setKeys.filter((key) => !key.includes('barrier'))).toEqual([]);
    // No fallback to the route's ttl: only an explicit lifetime is stored (RFC 9111 §4.2.1).
    header = 'public';
    await request(port, '/r?a=4');
    await barrier(port);
    expect(setKeys.filter((key) => !key.includes('barrier'))).toEqual([]);
  });

  test('cacheControl sets the header clients see on storable misses and hits, not on others', async () => {
    let secret = false;
    const port = await start({ cacheControl: 'public, max-age=30' }, (_req, res) => {
      if (secret) res.set('Cache-Control', 'private');
      else res.set('Cache-Control', 'max-age=5');
      res.send('cc');
    });
    const stored = whenSet(cache);
    const miss = await request(port, '/r');
    await stored;
    const hit = await request(port, '/r');
    expect(miss.headers['cache-control']).toBe('public, max-age=30');
    expect(hit.headers['cache-control']).toBe('public, max-age=30');
    secret = true;
    const priv = await request(port, '/r?p=1');
    expect(priv.headers['cache-control']).toBe('private');
  });

  test('a Set-Cookie added by a layer outside the cache: not stored, and no shareable Cache-Control goes out with it', async () => {
    const port = await start(
      { cacheControl: 'public, max-age=30' },
      (_req, res) => {
        res.set('Cache-Control', 'max-age=5');
        res.send('with a session');
      },
      (app) =>
        // What express-session does: set the cookie as the headers are written.
        app.use((req, res, next) => {
          const writeHead = res.writeHead;
          res.writeHead = function (this: Response, ...args: unknown[]) {
            if (req.headers['x-new-visitor'] !== undefined) res.setHeader('Set-Cookie', 'sid=new');
            return (writeHead as (...a: unknown[]) => Response).apply(this, args);
          } as Response['writeHead'];
          next();
        }),
    );
    const visitor = { 'x-new-visitor': '1' };
    const withCookie = await request(port, '/r', { headers: visitor });
    expect(withCookie.headers['set-cookie']).toEqual(['sid=new']);
    expect(withCookie.headers['cache-control']).toBe('max-age=5');
    await barrier(port);
    expect(setKeys.filter((key) => !key.includes('barrier'))).toEqual([]);
    const stored = whenSet(cache);
    const plain = await request(port, '/r');
    await stored;
    expect(plain.headers['cache-control']).toBe('public, max-age=30');
    const hitWithCookie = await request(port, '/r', { headers: visitor });
    expect(hitWithCookie.headers['x-cache']).toBe('HIT');
    expect(hitWithCookie.headers['set-cookie']).toEqual(['sid=new']);
    expect(hitWithCookie.headers['cache-control']).toBe('max-age=5');
    const hit = await request(port, '/r');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['cache-control']).toBe('public, max-age=30');
  });

  test('a client no-cache is ignored by default and honoured with honorNoCache', async () => {
    let version = 1;
    const plain = await start({}, (_req, res) => {
      res.send(`v${version}`);
    });
    const stored = whenSet(cache);
    await request(plain, '/r');
    await stored;
    version = 2;
    const ignored = await request(plain, '/r', { headers: { 'cache-control': 'no-cache' } });
    expect(ignored.headers['x-cache']).toBe('HIT');
    expect(ignored.body.toString()).toBe('v1');
    await server?.close();

    const honouring = await start({ honorNoCache: true, keyPrefix: 'honour' }, (_req, res) => {
      res.send(`v${version}`);
    });
    const first = whenSet(cache);
    await request(honouring, '/r');
    await first;
    version = 3;
    const refreshed = whenSet(cache);
    const forced = await request(honouring, '/r', { headers: { pragma: 'no-cache' } });
    await refreshed;
    expect(forced.headers['x-cache']).toBe('MISS');
    expect(forced.body.toString()).toBe('v3');
    expect((await request(honouring, '/r')).body.toString()).toBe('v3');
  });

  test('ignoreQuery shares one entry across tracking parameters; other parameters still count', async () => {
    const port = await start({ ignoreQuery: ['utm_*', /^fbclid$/, 'ref'] }, (req, res) => {
      res.send(`q=${String(req.query.q)}`);
    });
    const stored = whenSet(cache);
    await request(port, '/r?q=1&utm_source=a&fbclid=x');
    await stored;
    const same = await request(port, '/r?utm_medium=b&q=1&ref=z');
    const other = await request(port, '/r?q=2&utm_source=a');
    expect(same.headers['x-cache']).toBe('HIT');
    expect(same.body.toString()).toBe('q=1');
    expect(other.headers['x-cache']).toBe('MISS');
    expect(other.body.toString()).toBe('q=2');
  });

  test('long paths and queries give bounded keys, and distinct ones stay distinct', async () => {
    const app = version.express();
    app.use(cacheResponse({ cache, ttl: 60, maxKeyLength: 128 }));
    app.use((req: Request, res: Response) => {
      res.send(req.originalUrl.length.toString());
    });
    server = await listen(app);
    const long = `/${'a'.repeat(3_000)}`;
    const stored = whenSet(cache, 2);
    await request(server.port, long);
    await request(server.port, `${long}b`);
    const keys = (await stored).map(({ key }) => key);
    expect(keys.every((key) => key.length <= 128 + 'http:'.length)).toBe(true);
    expect(new Set(keys).size).toBe(2);
    expect((await request(server.port, long)).headers['x-cache']).toBe('HIT');
  });

  test('compressStoredBodiesOver stores big bodies gzip-compressed and replays the original bytes', async () => {
    const text = 'compress me please '.repeat(300);
    const port = await start({ compressStoredBodiesOver: 1_000 }, (req, res) => {
      res.type('text/plain').send(req.query.small === undefined ? text : 'tiny');
    });
    const storedBig = whenSet(cache);
    const miss = await request(port, '/r');
    const [big] = await storedBig;
    const storedSmall = whenSet(cache);
    await request(port, '/r?small=1');
    const [small] = await storedSmall;
    const bigEntry = (await cache.peek(big!.key.slice('http:'.length)))?.entry;
    const smallEntry = (await cache.peek(small!.key.slice('http:'.length)))?.entry;
    expect(bigEntry?.kind === 'response' && bigEntry.bodyEncoding).toBe('gzip');
    expect(bigEntry?.kind === 'response' && bigEntry.body.length).toBeLessThan(text.length / 5);
    expect(smallEntry?.kind === 'response' && smallEntry.bodyEncoding).toBeUndefined();
    const hit = await request(port, '/r');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-encoding']).toBeUndefined();
    expect(hit.headers['content-length']).toBe(String(text.length));
    expect(hit.body.toString()).toBe(text);
    expect(hit.headers.etag).toBe(miss.headers.etag);
    expect((await request(port, '/r?small=1')).body.toString()).toBe('tiny');
  });

  test('a dead store never turns into a 5xx: the handler answers', async () => {
    const errors: string[] = [];
    cache.on('error', ({ operation }) => errors.push(operation));
    const port = await start({}, (_req, res) => {
      res.send('origin still answers');
    });
    await cache.store.close();
    for (let i = 0; i < 2; i++) {
      const res = await request(port, '/r');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('origin still answers');
    }
    expect(calls).toBe(2);
    expect(errors).toContain('get');
  });

  test('answers over maxBodyBytes pass through uncached and intact', async () => {
    const port = await start({ maxBodyBytes: 1_000 }, (req, res) => {
      res.send('x'.repeat(Number(req.query.n)));
    });
    const big = await request(port, '/r?n=1001');
    expect(big.body.length).toBe(1_001);
    const stored = whenSet(cache);
    await request(port, '/r?n=1000');
    expect((await stored)[0]?.key).not.toContain('barrier');
    expect((await request(port, '/r?n=1001')).headers['x-cache']).toBe('MISS');
    expect((await request(port, '/r?n=1000')).headers['x-cache']).toBe('HIT');
  });
});

describe('cacheResponse options', () => {
  test.each<[string, CacheResponseOptions]>([
    ['varyBy', { varyBy: ['bad header'] }],
    ['varyBy', { varyBy: 'accept' as unknown as string[] }],
    ['ignoreQuery', { ignoreQuery: [''] }],
    ['ignoreQuery', { ignoreQuery: 'utm_*' as unknown as string[] }],
    ['maxKeyLength', { maxKeyLength: 10 }],
    ['cacheControl', { cacheControl: 'public\r\nX-Evil: 1' }],
    ['ttlFromCacheControl', { ttlFromCacheControl: 'yes' as unknown as boolean }],
    ['honorNoCache', { honorNoCache: 1 as unknown as boolean }],
    ['compressStoredBodiesOver', { compressStoredBodiesOver: -1 }],
  ])('an invalid %s throws InvalidOptionError naming it', (option, options) => {
    expect(() => cacheResponse(options)).toThrow(InvalidOptionError);
    try {
      cacheResponse(options);
    } catch (err) {
      expect((err as InvalidOptionError).option).toBe(option);
    }
  });
});
