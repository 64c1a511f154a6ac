import zlib from 'node:zlib';
import compression from 'compression';
import type { Express, Request, Response } from 'express';
import { type Cache, cacheResponse, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type RawResponse, type Running, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

const BODY = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item number ${i}` })) });

/** The body a client sees after undoing the announced Content-Encoding. */
function decoded(res: RawResponse): string {
  switch (res.headers['content-encoding']) {
    case undefined:
    case 'identity':
      return res.body.toString();
    case 'gzip':
      return zlib.gunzipSync(res.body).toString();
    case 'br':
      return zlib.brotliDecompressSync(res.body).toString();
    case 'deflate':
      return zlib.inflateSync(res.body).toString();
    default:
      throw new Error(`unexpected content-encoding ${String(res.headers['content-encoding'])}`);
  }
}

const CLIENTS: Array<{ name: string; acceptEncoding: string | undefined; allowed: Array<string | undefined> }> = [
  { name: 'gzip', acceptEncoding: 'gzip', allowed: ['gzip'] },
  { name: 'identity', acceptEncoding: 'identity', allowed: [undefined] },
  { name: 'no Accept-Encoding', acceptEncoding: undefined, allowed: [undefined] },
  { name: 'br', acceptEncoding: 'br', allowed: ['br'] },
  { name: 'gzip refused', acceptEncoding: 'gzip;q=0, deflate', allowed: ['deflate'] },
];

const ORDERS: Array<{ name: string; mount: (app: Express, cache: Cache, handler: (req: Request, res: Response) => void) => void }> = [
  {
    name: 'compression before cacheResponse',
    mount: (app, cache, handler) => {
      app.use(compression());
      app.get('/r', cacheResponse({ cache, ttl: 60 }), handler);
    },
  },
  {
    name: 'compression after cacheResponse',
    mount: (app, cache, handler) => {
      app.get('/r', cacheResponse({ cache, ttl: 60 }), compression(), handler);
    },
  },
];

const COMBOS = STORE_KINDS.flatMap((store) =>
  EXPRESS_VERSIONS.flatMap((version) => ORDERS.map((order) => ({ store, version, order, name: `${order.name}, ${store.name}, ${version.name}` }))),
);

describe.each(COMBOS)('$name', ({ store, version, order }) => {
  let cache: Cache;
  let server: Running;
  let calls: number;

  beforeEach(async () => {
    cache = createCache({ store: store.make(), namespace: 'gz' });
    calls = 0;
    const app = version.express();
    order.mount(app, cache, (req, res) => {
      calls++;
      if (req.query.raw === undefined) {
        res.type('application/json').send(BODY);
        return;
      }
      // Node's own API: headers passed to writeHead, body written in two chunks.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(BODY.slice(0, 100));
      res.end(BODY.slice(100));
    });
    server = await listen(app);
  });
  afterEach(async () => {
    await server.close();
    await cache.close();
  });

  async function get(acceptEncoding: string | undefined): Promise<RawResponse> {
    return request(server.port, '/r', { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });
  }

  test.each(CLIENTS)('the first client ($name) and every other client get bytes matching their Content-Encoding', async (first) => {
    const stored = whenSet(cache);
    const miss = await get(first.acceptEncoding);
    await stored;
    expect(first.allowed).toContain(miss.headers['content-encoding']);
    expect(decoded(miss)).toBe(BODY);
    for (const client of [...CLIENTS, ...CLIENTS]) {
      const res = await get(client.acceptEncoding);
      expect(res.status).toBe(200);
      // The rule: stored bytes and Content-Encoding agree, and nobody gets a coding they did not accept.
      expect(client.allowed).toContain(res.headers['content-encoding']);
      expect(decoded(res)).toBe(BODY);
      if (res.headers['content-encoding'] === undefined) expect(res.body.toString()).toBe(BODY);
    }
    // Every client got its answer; the origin ran once per distinct coding at most.
    expect(calls).toBeLessThanOrEqual(CLIENTS.length);
    expect((await get(first.acceptEncoding)).headers['x-cache']).toBe('HIT');
  });

  test.each(CLIENTS)('a handler using writeHead/write/end: first client $name, then the others', async (first) => {
    const path = '/r?raw=1';
    const headers = (ae: string | undefined) => (ae === undefined ? {} : { 'accept-encoding': ae });
    const stored = whenSet(cache);
    await request(server.port, path, { headers: headers(first.acceptEncoding) });
    await stored;
    for (const client of CLIENTS) {
      const res = await request(server.port, path, { headers: headers(client.acceptEncoding) });
      expect(client.allowed).toContain(res.headers['content-encoding']);
      expect(decoded(res)).toBe(BODY);
    }
  });
});
