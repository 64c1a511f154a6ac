import type { NextFunction, Request, Response } from 'express';
import { MemoryStore, apiKey, cacheResponse, createCache } from '../../lib';
import { InstrumentedStore } from '../../lib/metrics/instrumented-store';
import { requestKey, requestKeyer } from '../../lib/http/request-key';
import { READ_LATER } from '../../lib/stores/store';
import { EXPRESS_VERSIONS, destroyAgent, listen, request, whenSet } from './helpers';

// Issue 10, item 9: the hit path's same-tick answer and the request key's own reading of the
// scheme and host must give exactly what the slower, general paths give.

afterAll(() => destroyAgent());

describe.each(EXPRESS_VERSIONS)('fast paths on $name', ({ express }) => {
  test.each([
    ['no proxy trusted (the default)', false, {}],
    ['no proxy trusted, forged X-Forwarded-*', false, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }],
    ['a Host with a port', false, { host: 'api.example:8080' }],
    ['an IPv6 Host with a port', false, { host: '[::1]:3000' }],
    ['an IPv6 Host without a port', false, { host: '[::1]' }],
    ['every proxy trusted, X-Forwarded-*', true, { 'x-forwarded-host': 'edge.example', 'x-forwarded-proto': 'https' }],
  ] as const)('the key is computed from req.protocol and the host with its port: %s', async (_name, trust, headers) => {
    const cache = createCache({ store: new MemoryStore() });
    const app = express();
    app.set('trust proxy', trust);
    let expected: string | undefined;
    app.get('/item', cacheResponse({ cache, ttl: 60, keyPrefix: 'item' }), (req: Request, res: Response) => {
      const host = (trust ? req.get('x-forwarded-host') : undefined) ?? req.get('host') ?? '';
      expected = apiKey('item', '/item', 'id=1', undefined, { protocol: req.protocol, host });
      res.json({ ok: true });
    });
    const running = await listen(app);
    try {
      const stored = whenSet(cache);
      expect((await request(running.port, '/item?id=1', { headers })).headers['x-cache']).toBe('MISS');
      expect((await stored)[0]?.key).toBe(expected);
      expect((await request(running.port, '/item?id=1', { headers })).headers['x-cache']).toBe('HIT');
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('a memory hit is answered within the middleware call, with no promise returned', async () => {
    const cache = createCache({ store: new MemoryStore() });
    const middleware = cacheResponse({ cache, ttl: 60, keyPrefix: 'item' });
    const returned: unknown[] = [];
    const app = express();
    app.get(
      '/item',
      (req: Request, res: Response, next: NextFunction) => {
        const result: unknown = (middleware as unknown as (q: Request, s: Response, n: NextFunction) => unknown)(req, res, next);
        returned.push(result);
        return result;
      },
      (_req: Request, res: Response) => void res.json({ ok: true }),
    );
    const running = await listen(app);
    try {
      const stored = whenSet(cache);
      await request(running.port, '/item');
      await stored;
      const hit = await request(running.port, '/item');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(returned[0]).toBeInstanceOf(Promise);
      expect(returned[1]).toBeUndefined();
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('two caches sharing one MemoryStore call the origin once: the second waits on the lock and finds the entry', async () => {
    const store = new MemoryStore();
    // A short wait: were the re-check blind, the second cache would fill on its own after it.
    const lock = { ttlMs: 5_000, waitMs: 1_000, pollMs: 10 };
    const caches = [createCache({ store, lock }), createCache({ store, lock })];
    let originCalls = 0;
    const servers = await Promise.all(
      caches.map((cache) => {
        const app = express();
        app.get('/slow', cacheResponse({ cache, ttl: 60, keyPrefix: 'slow' }), (_req: Request, res: Response) => {
          originCalls++;
          setTimeout(() => res.json({ ok: true }), 150);
        });
        return listen(app);
      }),
    );
    try {
      // One Host for both servers: the port is part of the key, and they listen on two.
      const headers = { host: 'shared.example' };
      const first = request(servers[0]!.port, '/slow', { headers });
      // The first holds the lock once its handler runs.
      while (originCalls === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const answers = await Promise.all([first, request(servers[1]!.port, '/slow', { headers }), request(servers[1]!.port, '/slow', { headers })]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(answers.map((answer) => answer.headers['x-cache'])).toEqual(['MISS', 'HIT', 'HIT']);
      expect(originCalls).toBe(1);
    } finally {
      await Promise.all(servers.map((running) => running.close()));
      await Promise.all(caches.map((cache) => cache.close()));
    }
  });
});

describe('the request key memo', () => {
  const opts = { ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 4096, maxQueryParams: 128, keyByHost: true };
  const requestOf = (url: string, host: string, encrypted = false): Request =>
    ({ originalUrl: url, app: { settings: { 'trust proxy': false } }, socket: { encrypted }, headers: { host } }) as unknown as Request;
  const direct = (url: string, host: string, endpoint: string, protocol = 'http'): string => {
    const at = url.indexOf('?');
    const result = requestKey({ endpoint, protocol, host, path: at === -1 ? url : url.slice(0, at), rawQuery: at === -1 ? '' : url.slice(at + 1) }, opts);
    return 'key' in result ? result.key : 'bypass';
  };

  test('one URL asked for under many hosts, endpoints and schemes in turn gives each its own key, as computed without the memo', () => {
    const keyOf = requestKeyer(opts);
    // More hosts than the memo keeps per URL, asked for over and over: every answer must still be right.
    const hosts = ['a.example', 'b.example', 'c.example:8080', 'd.example', 'e.example', 'f.example'];
    for (let round = 0; round < 3; round++) {
      for (const host of hosts) {
        for (const endpoint of ['item', 'other']) {
          expect(keyOf(requestOf('/item?id=1', host), endpoint)).toBe(direct('/item?id=1', host, endpoint));
          expect(keyOf(requestOf('/item?id=1', host, true), endpoint)).toBe(direct('/item?id=1', host, endpoint, 'https'));
        }
      }
    }
    expect(new Set(hosts.map((host) => keyOf(requestOf('/item', host), 'item'))).size).toBe(hosts.length);
  });

  test('a query over the bound is a bypass, remembered or not', () => {
    const keyOf = requestKeyer({ ...opts, maxQueryLength: 8 });
    expect(keyOf(requestOf('/item?id=123456789', 'a.example'), 'item')).toEqual({ bypass: 'query-too-long' });
    expect(keyOf(requestOf('/item?id=1', 'a.example'), 'item')).toBe(direct('/item?id=1', 'a.example', 'item'));
  });
});

describe('same-tick reads', () => {
  test('MemoryStore.readNow answers what getWithMark resolves, and READ_LATER once closed', async () => {
    const store = new MemoryStore();
    await store.set('a', Buffer.from('x'), 60_000);
    await store.softDelete('a', 123);
    expect(store.readNow('a')).toEqual(await store.getWithMark('a'));
    expect(store.readNow('missing')).toBeUndefined();
    await store.close();
    expect(store.readNow('a')).toBe(READ_LATER);
  });

  test('a traced store leaves the read to the traced asynchronous path', async () => {
    const diagnostics = await import('node:diagnostics_channel');
    const store = new InstrumentedStore(new MemoryStore());
    await store.set('a', Buffer.from('x'), 60_000);
    expect(store.readNow?.('a')).toEqual({ value: Buffer.from('x'), softAt: undefined });
    const channel = diagnostics.tracingChannel('express-cache-kit:store');
    const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    channel.subscribe(handlers);
    try {
      expect(store.readNow?.('a')).toBe(READ_LATER);
    } finally {
      channel.unsubscribe(handlers);
      await store.close();
    }
  });

  test('an open breaker sends reads to the asynchronous path, which answers from the fallback', async () => {
    const failing = Object.assign(new MemoryStore(), {
      get: async () => Promise.reject(new Error('down')),
      getWithMark: async () => Promise.reject(new Error('down')),
      readNow: () => {
        throw new Error('down');
      },
    });
    const fallback = new MemoryStore();
    const seed = createCache({ store: fallback });
    await seed.set('k', 42, { ttl: 60 });
    const cache = createCache({ store: failing, fallback, breaker: { failureThreshold: 1 } });
    cache.on('error', () => undefined);
    // A throwing same-tick read is not an answer: the asynchronous read decides.
    expect(cache.peekNow('k')).toBe(READ_LATER);
    expect(await cache.get('k')).toBe(42);
    // Now the breaker is open (threshold 1): nothing is read in the same tick.
    expect(cache.peekNow('k')).toBe(READ_LATER);
    await cache.close();
  });
});
