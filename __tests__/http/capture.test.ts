import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { type Cache, cacheResponse, createCache } from '../../lib';
import { captureResponse } from '../../lib/http/capture';
import { EXPRESS_VERSIONS, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(() => destroyAgent());

/** Requests `path` until it is stored, then once more: the second must be a hit with the same body. */
async function expectStoredThenHit(cache: Cache, port: number, path: string, body: string): Promise<void> {
  const stored = whenSet(cache);
  const miss = await request(port, path);
  expect(miss.status).toBe(200);
  expect(miss.body.toString()).toBe(body);
  await stored;
  const hit = await request(port, path);
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.body.toString()).toBe(body);
}

describe.each(EXPRESS_VERSIONS)('capture on $name', ({ express }) => {
  test('a handler that reuses its buffer after write() still gets its own bytes stored and replayed', async () => {
    const cache = createCache();
    const app = express();
    app.get('/reuse', cacheResponse({ cache, ttl: 60 }), async (_req: Request, res: Response) => {
      const buffer = Buffer.from('aaaa');
      res.write(buffer);
      await new Promise((resolve) => setImmediate(resolve));
      buffer.fill('b');
      res.end(buffer);
    });
    const running = await listen(app);
    try {
      await expectStoredThenHit(cache, running.port, '/reuse', 'aaaabbbb');
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('two caches on one route (a capture inside a capture) both store the whole answer', async () => {
    const outer = createCache();
    const inner = createCache();
    let calls = 0;
    const handler = (_req: Request, res: Response): void => {
      calls++;
      res.write('part one, ');
      res.end('part two');
    };
    const app = express();
    app.get('/nested', cacheResponse({ cache: outer, ttl: 60, keyPrefix: 'nested' }), cacheResponse({ cache: inner, ttl: 60, keyPrefix: 'nested' }), handler);
    // The inner cache alone, on another app: it answers from what the nested capture stored.
    const innerOnly = express();
    innerOnly.get('/nested', cacheResponse({ cache: inner, ttl: 60, keyPrefix: 'nested' }), handler);
    const running = await listen(app);
    const second = await listen(innerOnly);
    try {
      const written = Promise.all([whenSet(outer), whenSet(inner)]);
      expect((await request(running.port, '/nested')).body.toString()).toBe('part one, part two');
      await written;
      const fromOuter = await request(running.port, '/nested');
      expect(fromOuter.headers['x-cache']).toBe('HIT');
      expect(fromOuter.body.toString()).toBe('part one, part two');
      const fromInner = await request(second.port, '/nested');
      expect(fromInner.headers['x-cache']).toBe('HIT');
      expect(fromInner.body.toString()).toBe('part one, part two');
      expect(calls).toBe(1);
    } finally {
      await running.close();
      await second.close();
      await Promise.all([outer.close(), inner.close()]);
    }
  });

  test('a mounted app caching under an app that caches too: writes reach the client once and are stored', async () => {
    const cache = createCache();
    const app = express();
    const sub = express();
    app.get('/top', cacheResponse({ cache, ttl: 60, keyPrefix: 'top' }), (_req: Request, res: Response) => void res.send('top'));
    // Express puts the mounted app's response prototype over the parent's: both are routed here.
    app.use('/sub', sub);
    sub.get('/streamed', cacheResponse({ cache, ttl: 60, keyPrefix: 'streamed' }), (_req: Request, res: Response) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('one, ');
      res.end('two');
    });
    const running = await listen(app);
    try {
      await expectStoredThenHit(cache, running.port, '/top', 'top');
      await expectStoredThenHit(cache, running.port, '/sub/streamed', 'one, two');
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('a cache in front of a mounted app stores what the mounted app answers', async () => {
    const cache = createCache();
    const app = express();
    const sub = express();
    sub.get('/inner', (_req: Request, res: Response) => {
      res.write('from the ');
      res.end('mounted app');
    });
    // The mounted app switches the response to its own prototype, which sits over the routed one.
    app.use('/mounted', cacheResponse({ cache, ttl: 60, keyPrefix: 'mounted' }), sub);
    const running = await listen(app);
    try {
      await expectStoredThenHit(cache, running.port, '/mounted/inner', 'from the mounted app');
    } finally {
      await running.close();
      await cache.close();
    }
  });

  test('the capture routes through the caching app alone: other apps and Node\'s ServerResponse keep their methods', async () => {
    const { writeHead, write, end } = http.ServerResponse.prototype;
    const cache = createCache();
    const app = express();
    const other = express();
    app.get('/routed', cacheResponse({ cache, ttl: 60 }), (_req: Request, res: Response) => void res.send('routed'));
    other.get('/plain', (_req: Request, res: Response) => void res.send('plain'));
    const running = await listen(app);
    const second = await listen(other);
    try {
      await expectStoredThenHit(cache, running.port, '/routed', 'routed');
      expect((await request(second.port, '/plain')).body.toString()).toBe('plain');
      // Neither the other app's prototype nor Express' own response object (shared by every app).
      expect(Object.hasOwn(other.response, 'end')).toBe(false);
      expect(Object.hasOwn(Object.getPrototypeOf(other.response) as object, 'end')).toBe(false);
      expect([http.ServerResponse.prototype.writeHead, http.ServerResponse.prototype.write, http.ServerResponse.prototype.end]).toEqual([writeHead, write, end]);
    } finally {
      await running.close();
      await second.close();
      await cache.close();
    }
  });
});

test('a plain Node response is captured without touching ServerResponse.prototype, twice on one response class', async () => {
  const { writeHead, write, end } = http.ServerResponse.prototype;
  const captured: string[] = [];
  const server = http.createServer((_req, res) => {
    captureResponse(res, 1024, { onEnd: (answer) => captured.push(`${answer.status} ${String(answer.headers['content-type'])} ${answer.body?.toString() ?? ''}`) });
    res.setHeader('Content-Type', 'text/plain');
    res.write('plain ');
    res.end('node');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    expect((await request(port, '/a')).body.toString()).toBe('plain node');
    expect((await request(port, '/b')).body.toString()).toBe('plain node');
    expect(captured).toEqual(['200 text/plain plain node', '200 text/plain plain node']);
    expect([http.ServerResponse.prototype.writeHead, http.ServerResponse.prototype.write, http.ServerResponse.prototype.end]).toEqual([writeHead, write, end]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

