import net from 'node:net';
import type { Express, Request, Response } from 'express';
import { type Cache, cacheResponse, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type RawResponse, type Running, destroyAgent, listen, request, whenSet } from './helpers';

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

// Deterministic: a failure names its seed and request, and re-running replays the same traffic.
const SEED = Number(process.env.HOSTILE_SEED ?? 0x5eed);
const REQUESTS_PER_RUN = 1_500;
const PARALLEL = 8;
const MAX_BODY = 2_048;

/** mulberry32: a tiny seeded PRNG, good enough to pick test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The routes, identical with and without the cache. Every body is a pure function of the
 * request, so the uncached app says exactly what the cached one must answer.
 */
function routes(app: Express, cache: Cache | undefined): void {
  const cached = (options: Parameters<typeof cacheResponse>[0] = {}) =>
    cache === undefined ? [] : [cacheResponse({ cache, ttl: 60, maxBodyBytes: MAX_BODY, ...options })];
  app.set('trust proxy', true);
  app.get('/echo/:id', ...cached(), (req: Request, res: Response) => {
    res.set('Vary', 'Accept-Language');
    res.json({ id: req.params.id, path: req.path, query: req.query, lang: req.headers['accept-language'] ?? null });
  });
  // The poisoning classic: the body depends on X-Forwarded-Host (through req.hostname with
  // `trust proxy`), so the handler declares it, and Host, in Vary.
  app.get('/home', ...cached(), (req: Request, res: Response) => {
    res.set('Vary', 'X-Forwarded-Host, Host');
    res.type('html').send(`<script src="//${req.hostname}/app.js"></script>`);
  });
  // Personal answers that say nothing in Vary: only the Authorization/Cookie bypass protects them.
  app.get('/private', ...cached(), (req: Request, res: Response) => {
    res.send(req.headers.authorization === undefined ? 'public page' : `secrets of ${req.headers.authorization}`);
  });
  app.get('/cookie', ...cached(), (req: Request, res: Response) => {
    res.send(`cart of ${req.headers.cookie ?? 'nobody'}`);
  });
  app.get('/login', ...cached(), (req: Request, res: Response) => {
    res.cookie('sid', String(req.query.u ?? 'anon'));
    res.send(`welcome ${String(req.query.u ?? 'anon')}`);
  });
  // Bodies around the size limit.
  app.get('/size', ...cached(), (req: Request, res: Response) => {
    const n = Math.min(5_000, Math.max(0, Number(req.query.n) || 0));
    res.send(`${'x'.repeat(n)}|${JSON.stringify(req.query)}`);
  });
  // No route: the endpoint in the key is the request path itself, as long as a hostile client likes.
  // (Echoing req.originalUrl would differ between spellings the key deliberately merges, such as
  // `?a=%20` and `?a=+` or a reordered query: one entry, the first spelling. docs/http.md says so.)
  app.use('/any', ...cached(), (req: Request, res: Response) => {
    res.json({ path: req.path, query: req.query });
  });
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

const SEGMENTS = [
  'a',
  'A',
  '123',
  'a%2Fb',
  '..%2F..%2Fetc',
  '%252F',
  '%FF',
  '%E0%A4%A',
  '%C3%BC',
  encodeURIComponent('日本語🙂'),
  '%00',
  'a%0D%0ASet-Cookie:%20x=1',
  '%2e%2e',
  'x;y=1',
];
const NAMES = ['a', 'b', 'a[]', 'a[0]', 'a[1]', 'q', 'utm_source', 'x%20y', 'x+y', '%FF', encodeURIComponent('ü'), '__proto__', 'constructor', 'n', 'u', ''];
const VALUES = ['1', '2', '', '%20', '+', '%2B', '%FF', '%FE', '%E0%A4%A', encodeURIComponent('日本'), 'a&b', '%26', '1e3', '2040', '2047', '2048', '2049', '2100'];

function randomSegment(rand: () => number): string {
  const r = rand();
  if (r < 0.05) return 'y'.repeat(500 + Math.floor(rand() * 3_000));
  if (r < 0.5) return pick(rand, SEGMENTS);
  return Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, SEGMENTS)).join('');
}

function randomQuery(rand: () => number): string {
  const r = rand();
  if (r < 0.2) return '';
  if (r < 0.25) return `?q=${'z'.repeat(2_000 + Math.floor(rand() * 6_000))}`;
  const count = 1 + Math.floor(rand() * 6);
  const parts = Array.from({ length: count }, () => {
    const name = pick(rand, NAMES);
    return rand() < 0.1 ? name : `${name}=${pick(rand, VALUES)}`;
  });
  if (rand() < 0.1) parts.push(parts[0] ?? 'a=1');
  if (rand() < 0.05) parts.push('');
  return `?${parts.join('&')}`;
}

interface Generated {
  method: 'GET' | 'HEAD';
  path: string;
  headers: Record<string, string>;
}

function randomRequest(rand: () => number): Generated {
  const route = pick(rand, ['/echo', '/echo', '/home', '/private', '/cookie', '/login', '/size', '/any', '/any', '/nowhere']);
  let path: string;
  if (route === '/echo') path = `/echo/${randomSegment(rand)}${randomQuery(rand)}`;
  else if (route === '/any') path = `/any/${randomSegment(rand)}/${randomSegment(rand)}${randomQuery(rand)}`;
  else if (route === '/size') path = `/size?n=${2_030 + Math.floor(rand() * 30)}${rand() < 0.5 ? `&tag=${pick(rand, VALUES)}` : ''}`;
  else if (route === '/login') path = `/login?u=${pick(rand, ['alice', 'bob', 'mallory'])}`;
  else path = `${route}${rand() < 0.3 ? randomQuery(rand) : ''}`;
  const headers: Record<string, string> = {};
  const lang = pick(rand, [undefined, undefined, 'fr', 'en', 'fr, en;q=0.5', '', 'de-CH']);
  if (lang !== undefined) headers['accept-language'] = lang;
  const forwarded = pick(rand, [undefined, undefined, 'evil.example', 'good.example', 'evil.example, good.example']);
  if (forwarded !== undefined) headers['x-forwarded-host'] = forwarded;
  if (rand() < 0.15) headers.authorization = pick(rand, ['Bearer alice', 'Bearer bob', 'Basic bWFsbG9yeTp4']);
  if (rand() < 0.15) headers.cookie = pick(rand, ['sid=alice', 'sid=bob', 'theme=dark']);
  if (rand() < 0.05) headers.host = pick(rand, ['evil.example', 'good.example:8080']);
  if (rand() < 0.05) headers['cache-control'] = 'no-cache';
  if (rand() < 0.05) headers['if-none-match'] = '"not-a-match"';
  if (rand() < 0.05) headers['accept-encoding'] = pick(rand, ['gzip', 'identity', '*;q=0', 'br, gzip']);
  return { method: rand() < 0.1 ? 'HEAD' : 'GET', path, headers };
}

// Spellings that some parser reads alike and another tells apart: the key must follow the finest.
const TWINS: Array<[string, string]> = [
  ['%FF', '%FE'],
  ['%2B', '+'],
  ['%20', '+'],
  ['a[]', 'a'],
  ['%E0%A4%A', '%E0%A4%B'],
  ['%2F', '/'],
  ['%C3%BC', '%FC'],
];

/** A request that differs from `req` in one spelling from {@link TWINS}, or undefined when none applies. */
function twinOf(req: Generated, rand: () => number): Generated | undefined {
  const [from, to] = pick(rand, TWINS);
  for (const [a, b] of [
    [from, to],
    [to, from],
  ] as const) {
    if (req.path.includes(a)) return { ...req, path: req.path.replace(a, b) };
  }
  return undefined;
}

const COMBOS = STORE_KINDS.flatMap((store) => EXPRESS_VERSIONS.map((version) => ({ store, version, name: `${store.name}, ${version.name}` })));

describe.each(COMBOS)('hostile traffic on $name', ({ store, version }) => {
  let cache: Cache;
  let cachedApp: Running;
  let originApp: Running;

  beforeAll(async () => {
    cache = createCache({ store: store.make(), namespace: 'hostile' });
    const withCache = version.express();
    routes(withCache, cache);
    const origin = version.express();
    routes(origin, undefined);
    cachedApp = await listen(withCache);
    originApp = await listen(origin);
  });
  afterAll(async () => {
    await cachedApp.close();
    await originApp.close();
    await cache.close();
  });

  test(`${REQUESTS_PER_RUN} generated requests: no 5xx, and every answer is the one the origin gives that exact request`, async () => {
    const rand = prng(SEED);
    const storeErrors: string[] = [];
    cache.on('error', ({ error }) => storeErrors.push(error.message));
    // A pool of requests sent several times each, so hits are common.
    const pool = Array.from({ length: 300 }, () => randomRequest(rand));
    for (const req of pool.slice(0, 150)) {
      const twin = twinOf(req, rand);
      if (twin !== undefined) pool.push(twin);
    }
    const traffic = Array.from({ length: REQUESTS_PER_RUN }, () => pick(rand, pool));
    const problems: string[] = [];
    let hits = 0;

    const check = (req: Generated, got: RawResponse, want: RawResponse): void => {
      const where = `seed ${SEED}: ${req.method} ${req.path.slice(0, 120)} ${JSON.stringify(req.headers)}`;
      if (got.status >= 500) problems.push(`${got.status} for ${where}`);
      if (got.status !== want.status) problems.push(`status ${got.status}, origin ${want.status}: ${where}`);
      if (!got.body.equals(want.body)) problems.push(`body differs (${String(got.headers['x-cache'])}): ${where}`);
      if (got.headers['x-cache'] === 'HIT') {
        hits++;
        if (got.headers['set-cookie'] !== undefined) problems.push(`a HIT carried Set-Cookie: ${where}`);
        if (req.headers.authorization !== undefined || req.headers.cookie !== undefined) problems.push(`a credentialed request was a HIT: ${where}`);
      }
    };

    for (let i = 0; i < traffic.length; i += PARALLEL) {
      await Promise.all(
        traffic.slice(i, i + PARALLEL).map(async (req) => {
          const options = { method: req.method, headers: req.headers };
          const [got, want] = await Promise.all([request(cachedApp.port, req.path, options), request(originApp.port, req.path, options)]);
          check(req, got, want);
        }),
      );
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(storeErrors).toEqual([]);
    // The run exercised the cache, not only the bypasses and misses.
    expect(hits).toBeGreaterThan(REQUESTS_PER_RUN / 4);
  });

  test('malformed and injection-shaped raw requests never get a 5xx, and the server keeps answering', async () => {
    const raw = [
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: evil\nSet-Cookie: a=1\r\n\r\n',
      'GET /echo/a\r\nSet-Cookie: a=1 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nAccept-Language: fr\r\n injected: folded\r\n\r\n',
      'GET /echo/%%% HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /echo/a?x=\u00ff HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /home HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: a\r\nX-Forwarded-Host: b\r\n\r\n',
      'GET /home HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      `GET /echo/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET http://evil.example/echo/a HTTP/1.1\r\nHost: x\r\n\r\n',
      'HEAD /size?n=2048 HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const text of raw) {
      const statusLine = await new Promise<string>((resolve) => {
        const socket = net.connect(cachedApp.port, '127.0.0.1');
        let data = '';
        socket.setTimeout(2_000, () => socket.destroy());
        socket.on('data', (chunk) => {
          data += chunk.toString('latin1');
          if (data.includes('\r\n')) socket.destroy();
        });
        socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
        socket.on('error', () => undefined);
        socket.write(Buffer.from(text, 'latin1'));
      });
      expect(statusLine).not.toMatch(/^HTTP\/1\.[01] 5\d\d/);
    }
    const after = await request(cachedApp.port, '/echo/still-alive');
    expect(after.status).toBe(200);
  });
});

describe('unkeyed request headers (documented risk)', () => {
  test('scheme and host are keyed, but a header the handler reads directly and Vary does not name is not', async () => {
    const cache = createCache();
    const app = EXPRESS_VERSIONS[0]!.express();
    app.set('trust proxy', true);
    app.get('/unkeyed', cacheResponse({ cache }), (req, res) => {
      res.send(`<script src="//${String(req.headers['x-original-host'] ?? req.hostname)}/app.js"></script>`);
    });
    const running = await listen(app);
    try {
      let stored = whenSet(cache);
      await request(running.port, '/unkeyed', { headers: { 'x-forwarded-host': 'evil.example' } });
      await stored;
      // req.hostname (X-Forwarded-Host under trust proxy) is in the key: no poisoning through it.
      const clean = await request(running.port, '/unkeyed');
      expect(clean.headers['x-cache']).toBe('MISS');
      expect(clean.body.toString()).not.toContain('evil.example');
      stored = whenSet(cache);
      await request(running.port, '/unkeyed?x', { headers: { 'x-original-host': 'evil.example' } });
      await stored;
      const victim = await request(running.port, '/unkeyed?x');
      // This is why handlers must declare Vary (or use varyBy) for every header they read:
      // README ("Headers your body depends on") says so, and /home above shows the declared version is safe.
      expect(victim.headers['x-cache']).toBe('HIT');
      expect(victim.body.toString()).toContain('evil.example');
    } finally {
      await running.close();
      await cache.close();
    }
  });
});
