import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, NextFunction, Request, Response } from 'express';
import { type Cache, type CacheEvents, cacheResponse, createCache, getResponse } from '../../lib';
import { setStoredHeaders } from '../../lib/http/replay-headers';
import { encodeEntry } from '../../lib/serializer';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request, whenSet } from './helpers';

// Issue 11, items 1-4: hostile query strings, Host / X-Forwarded-* poisoning, headers of earlier
// middleware, corrupt entries. Every case runs on MemoryStore and on a real redis-server, with
// Express 4 and 5.

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

const COMBOS = STORE_KINDS.flatMap((store) => EXPRESS_VERSIONS.map((version) => ({ store, version, name: `${store.name}, ${version.name}` })));

/** 1,450 parameters `%zz<i>=%zz`: about 16 KB, inside Node's default header limit. */
const HOSTILE_QUERY = Array.from({ length: 1_450 }, (_, i) => `%zz${i}=%zz`).join('&');

function recorder<E extends keyof CacheEvents>(cache: Cache, event: E): Array<CacheEvents[E]> {
  const seen: Array<CacheEvents[E]> = [];
  cache.on(event, (payload) => void seen.push(payload));
  return seen;
}

describe.each(COMBOS)('hostile input on $name', ({ store, version }) => {
  let cache: Cache;
  let app: Express;
  let running: Running | undefined;
  let originCalls: number;

  beforeEach(() => {
    cache = createCache({ store: store.make(), namespace: 'hostile-input' });
    app = version.express();
    originCalls = 0;
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await cache.close();
  });

  const start = async (): Promise<number> => {
    running = await listen(app);
    return running.port;
  };

  describe('query bounds (item 1)', () => {
    const route = (options: Parameters<typeof cacheResponse>[0] = {}): void => {
      app.get('/q', cacheResponse({ cache, keyPrefix: 'q', ...options }), (req: Request, res: Response) => {
        originCalls++;
        res.send(`params ${Object.keys(req.query).length}`);
      });
    };

    test('a 16 KB query is not keyed: BYPASS and a bypass event saying query-too-long', async () => {
      route();
      const bypasses = recorder(cache, 'bypass');
      const port = await start();
      for (let i = 0; i < 2; i++) {
        const answer = await request(port, `/q?${HOSTILE_QUERY}`);
        expect(answer.status).toBe(200);
        expect(answer.headers['x-cache']).toBe('BYPASS');
      }
      expect(originCalls).toBe(2);
      expect(bypasses).toEqual([
        { endpoint: 'q', reason: 'query-too-long' },
        { endpoint: 'q', reason: 'query-too-long' },
      ]);
    });

    test('more than maxQueryParams parameters: BYPASS with too-many-params; within both bounds it is cached', async () => {
      route({ maxQueryParams: 10 });
      const bypasses = recorder(cache, 'bypass');
      const port = await start();
      const many = Array.from({ length: 11 }, (_, i) => `p${i}=1`).join('&');
      expect((await request(port, `/q?${many}`)).headers['x-cache']).toBe('BYPASS');
      expect(bypasses).toEqual([{ endpoint: 'q', reason: 'too-many-params' }]);
      const ten = Array.from({ length: 10 }, (_, i) => `p${i}=1`).join('&');
      const stored = whenSet(cache);
      expect((await request(port, `/q?${ten}&&`)).headers['x-cache']).toBe('MISS');
      await stored;
      expect((await request(port, `/q?${ten}`)).headers['x-cache']).toBe('HIT');
      expect(bypasses).toHaveLength(1);
    });

    test('with the bounds raised, the hostile query is keyed and cached like any other', async () => {
      route({ maxQueryLength: 20_000, maxQueryParams: 2_000 });
      const port = await start();
      const stored = whenSet(cache);
      const first = await request(port, `/q?${HOSTILE_QUERY}`);
      await stored;
      const second = await request(port, `/q?${HOSTILE_QUERY}`);
      expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      expect(second.body.equals(first.body)).toBe(true);
      expect(originCalls).toBe(1);
      // One malformed component more or less is another request.
      expect((await request(port, `/q?${HOSTILE_QUERY}&%zz=1`)).headers['x-cache']).toBe('MISS');
    });
  });

  describe('scheme and host in the key (item 2)', () => {
    beforeEach(() => {
      app.set('trust proxy', true);
    });
    const linkRoute = (options: Parameters<typeof cacheResponse>[0] = {}): void => {
      // Builds links from req.protocol / req.hostname and, like most apps, says nothing in Vary.
      app.get('/home', cacheResponse({ cache, ...options }), (req: Request, res: Response) => {
        originCalls++;
        res.send(`<script src="${req.protocol}://${req.hostname}/app.js"></script>`);
      });
    };

    test.each([
      ['X-Forwarded-Host', { 'x-forwarded-host': 'evil.example' }, 'evil.example'],
      ['X-Forwarded-Proto', { 'x-forwarded-proto': 'javascript' }, 'javascript:'],
      ['another Host', { host: 'evil.example' }, 'evil.example'],
    ])('a request with a forged %s does not poison the entry a clean request gets', async (_name, forged, marker) => {
      linkRoute();
      const port = await start();
      const stored = whenSet(cache);
      const attack = await request(port, '/home', { headers: forged });
      expect(attack.body.toString()).toContain(marker);
      await stored;
      const victim = await request(port, '/home');
      expect(victim.body.toString()).toBe(`<script src="http://127.0.0.1/app.js"></script>`);
      expect(victim.headers['x-cache']).toBe('MISS');
      // The attacker's own entry still serves the attacker's spelling only.
      expect((await request(port, '/home', { headers: forged })).headers['x-cache']).toBe('HIT');
    });

    test('keyByHost: false shares one entry across hosts (the scheme still counts)', async () => {
      linkRoute({ keyByHost: false });
      const port = await start();
      const stored = whenSet(cache);
      await request(port, '/home', { headers: { host: 'a.example' } });
      await stored;
      const other = await request(port, '/home', { headers: { host: 'b.example' } });
      expect(other.headers['x-cache']).toBe('HIT');
      expect(other.body.toString()).toContain('a.example');
      expect((await request(port, '/home', { headers: { host: 'a.example', 'x-forwarded-proto': 'https' } })).headers['x-cache']).toBe('MISS');
    });
  });

  describe('headers of middleware mounted before the cache (item 3)', () => {
    test('are neither stored nor replayed: a hit keeps the current request\'s X-Request-Id and X-RateLimit-Remaining', async () => {
      let requests = 0;
      app.use((_req: Request, res: Response, next: NextFunction) => {
        requests++;
        res.setHeader('X-Request-Id', `req-${requests}`);
        res.setHeader('X-RateLimit-Remaining', String(100 - requests));
        res.setHeader('X-Overridden', 'by-early-middleware');
        next();
      });
      app.get('/page', cacheResponse({ cache }), (_req: Request, res: Response) => {
        originCalls++;
        res.setHeader('X-Handler', 'handler');
        res.setHeader('X-Overridden', 'by-handler');
        res.send('page');
      });
      const port = await start();
      const stored = whenSet(cache);
      const first = await request(port, '/page');
      await stored;
      const second = await request(port, '/page');
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.headers['x-request-id']).toBe('req-2');
      expect(second.headers['x-ratelimit-remaining']).toBe('98');
      // What the handler set (or changed) after the cache ran is replayed.
      expect(second.headers['x-handler']).toBe('handler');
      expect(second.headers['x-overridden']).toBe('by-handler');
      expect(second.body.toString()).toBe('page');
      expect(first.headers['x-request-id']).toBe('req-1');
      expect(originCalls).toBe(1);
      const entry = await getResponse(cache, String((await stored)[0]?.key).slice('hostile-input:'.length));
      expect(Object.keys(entry?.headers ?? {})).not.toEqual(expect.arrayContaining(['x-request-id']));
      expect(entry?.headers['x-ratelimit-remaining']).toBeUndefined();
      expect(entry?.headers['x-handler']).toBe('handler');
    });
  });

  describe('corrupt entries (item 4)', () => {
    const BODY = 'the whole answer from the origin';
    let key: string;
    let port: number;

    beforeEach(async () => {
      app.get('/c', cacheResponse({ cache }), (_req: Request, res: Response) => {
        originCalls++;
        res.setHeader('X-Origin', 'yes');
        res.send(BODY);
      });
      port = await start();
      const stored = whenSet(cache);
      await request(port, '/c');
      key = String((await stored)[0]?.key);
    });

    const now = Date.now();
    const entry = { kind: 'response' as const, createdAt: now, expiresAt: now + 60_000, body: Buffer.from(BODY) };
    const CORRUPTIONS: Array<[string, (good: Buffer) => Buffer]> = [
      ['a value truncated inside the body', (good) => good.subarray(0, good.length - 10)],
      ['one flipped bit in the body', (good) => Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([(good[good.length - 1] as number) ^ 4])])],
      ['status 99999', () => encodeEntry({ ...entry, status: 99_999, headers: { 'x-leak': 'from-the-entry' } })],
      ['a header value with \\n', () => encodeEntry({ ...entry, status: 200, headers: { 'x-leak': 'from-the-entry', 'x-bad': 'a\nSet-Cookie: x=1' } })],
      // Issue 25: a valid checksum over what may never be stored is refused on read as on write.
      ['transfer-encoding: chunked', () => encodeEntry({ ...entry, status: 200, headers: { 'x-leak': 'from-the-entry', 'transfer-encoding': 'chunked' } })],
      ['connection: close', () => encodeEntry({ ...entry, status: 200, headers: { 'x-leak': 'from-the-entry', connection: 'close' } })],
      ['set-cookie', () => encodeEntry({ ...entry, status: 200, headers: { 'x-leak': 'from-the-entry', 'set-cookie': ['sid=victim'] } })],
      ['status 204', () => encodeEntry({ ...entry, status: 204, headers: { 'x-leak': 'from-the-entry' } })],
      ['status 304', () => encodeEntry({ ...entry, status: 304, headers: { 'x-leak': 'from-the-entry' } })],
      ['status 103', () => encodeEntry({ ...entry, status: 103, headers: { 'x-leak': 'from-the-entry' } })],
    ];

    test.each(CORRUPTIONS)('%s: deleted, reported as an error event, answered whole by the origin', async (_name, corrupt) => {
      const good = (await cache.store.get(key)) as Buffer;
      expect(good).toBeDefined();
      await cache.store.set(key, corrupt(good), 60_000);
      const errors = recorder(cache, 'error');
      const restored = whenSet(cache);
      const answer = await request(port, '/c');
      expect(answer.status).toBe(200);
      expect(answer.headers['x-cache']).toBe('MISS');
      expect(answer.body.toString()).toBe(BODY);
      expect(answer.headers['x-origin']).toBe('yes');
      expect(answer.headers['x-leak']).toBeUndefined();
      expect(errors.map((e) => [e.operation, e.key, e.error.name])).toEqual([['decode', key, 'CorruptEntryError']]);
      expect(originCalls).toBe(2);
      // The origin's answer replaced the bad bytes: the next request is a whole hit.
      await restored;
      const next = await request(port, '/c');
      expect(next.headers['x-cache']).toBe('HIT');
      expect(next.body.toString()).toBe(BODY);
    });
  });
});

describe('replaying stored headers is all or nothing', () => {
  test('a refused header leaves the response as it was, so the origin can answer on it', async () => {
    let result: boolean | undefined;
    let after: http.OutgoingHttpHeaders = {};
    const server = http.createServer((_req, res) => {
      res.setHeader('X-Early', 'kept');
      result = setStoredHeaders(res, { 'x-early': 'from-entry', 'x-a': 'from-entry', 'x-bad': 'a\nb', 'x-z': 'never' });
      after = res.getHeaders();
      res.end('origin');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const answer = await request((server.address() as AddressInfo).port, '/');
      expect(result).toBe(false);
      expect(after).toEqual({ 'x-early': 'kept' });
      expect(answer.body.toString()).toBe('origin');
      expect(answer.headers['x-a']).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
