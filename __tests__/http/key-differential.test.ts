import type { Express, Request, Response } from 'express';
import { type Cache, cacheResponse, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request } from './helpers';

// Issue 25, rows 1 and 2: two requests may share an entry only when the handler sees the same
// input. A corpus of URL spellings goes to a cached app and to its uncached twin, in corpus
// order and in reverse (so every pair is tried both ways round), on both Express majors; every
// answer of the cached app must be the twin's.

afterAll(async () => {
  destroyAgent();
  await closeStoreClients();
});

/** What a handler can see of its input. Names of distinct parameters are sorted: the key treats their order as insignificant by design. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value).sort()) out[name] = sortKeys((value as Record<string, unknown>)[name]);
  return out;
}

function routes(app: Express, cache: Cache | undefined): void {
  const cached = cache === undefined ? [] : [cacheResponse({ cache, ttl: 60 })];
  const echo = (req: Request, res: Response): void => {
    res.json({ path: req.path, params: req.params, query: sortKeys(req.query), host: req.get('host') ?? null, protocol: req.protocol });
  };
  app.get('/q', ...cached, echo);
  app.get('/k/:id', ...cached, echo);
}

interface Spelling {
  path: string;
  host?: string;
}

const manyEmpty = `/q?${'&'.repeat(1_000)}a=1`;

const CORPUS: Spelling[] = [
  // Repeated and mixed `a` / `a[]` names: qs merges them in the order they came.
  ...['a=1&a[]=2', 'a[]=2&a=1', 'a=1&a%5B%5D=2', 'a%5B%5D=2&a=1', 'a[]=1&a[]=2', 'a[]=2&a[]=1', 'a[0]=1&a[1]=2', 'a[1]=2&a[0]=1'],
  ...['[a]=1&a=2', 'a=2&[a]=1', 'a[b]=1&a[c]=2', 'a[c]=2&a[b]=1', 'a=1&a[]=2&a[b]=3', 'a[b]=3&a=1&a[]=2', 'a[]=1&b=2&a[]=3', 'b=2&a[]=3&a[]=1'],
  ...['a[b][c]=1', 'a.b=1', 'a=1&a=2', 'a=2&a=1', 'a=1&b=2', 'b=2&a=1', 'a=1&&b=2', 'a=1&b=2&'],
  // `+` / `%20`, percent-encoding, Unicode forms (NFC, NFD), malformed escapes.
  ...['x=a+b', 'x=a%20b', 'x=a%2Bb', 'x+y=1', 'x%20y=1', 'x=%C3%A9', 'x=%c3%a9', 'x=e%CC%81', 'x=%FF', 'x=%FE', 'x=%25FF', 'x=%', 'x=%2'],
  // Prototype names, empty names and values.
  ...['__proto__=1', '__proto__[a]=1', 'constructor=1', 'hasOwnProperty=1', 'a', 'a=', '=a', ''],
].map((query) => ({ path: query === '' ? '/q' : `/q?${query}` })).concat([
  { path: '/q?' },
  { path: manyEmpty },
  { path: '/q?a=1' },
  // Paths: encodings of one character, ids with `:`, Unicode forms.
  ...['/k/A', '/k/%41', '/k/a:b', '/k/a%3Ab', '/k/%C3%A9', '/k/e%CC%81'].map((path) => ({ path })),
  // Hosts and ports: the handler reads `req.get('host')`.
  ...['app.example', 'app.example:1337', 'app.example:80', 'APP.example'].map((host) => ({ path: '/k/1', host })),
  { path: '/k/1' },
]);

describe.each(STORE_KINDS.flatMap((store) => EXPRESS_VERSIONS.map((version) => ({ store, version, name: `${store.name}, ${version.name}` }))))(
  'URL spellings on $name',
  ({ store, version }) => {
    test.each([
      ['in corpus order', CORPUS],
      ['in reverse order', [...CORPUS].reverse()],
    ])('%s: every cached answer is the uncached twin\'s', async (_order, corpus) => {
      const cache = createCache({ store: store.make(), namespace: `key-diff-${Math.random().toString(36).slice(2)}` });
      let sets = 0;
      cache.on('set', () => void sets++);
      const cachedApp = version.express();
      const twinApp = version.express();
      routes(cachedApp, cache);
      routes(twinApp, undefined);
      const servers: Running[] = [await listen(cachedApp), await listen(twinApp)];
      const [cached, twin] = servers as [Running, Running];
      try {
        const wrong: string[] = [];
        let hits = 0;
        for (const { path, host } of corpus) {
          // Both apps see one Host (their ports differ), so their answers can be compared.
          const headers = { host: host ?? 'app.example:3000' };
          const before = sets;
          const answer = await request(cached.port, path, { headers });
          const expected = await request(twin.port, path, { headers });
          if (answer.headers['x-cache'] === 'HIT') hits++;
          if (answer.status !== expected.status || !answer.body.equals(expected.body)) {
            wrong.push(`${host ?? ''}${path.slice(0, 60)}: got ${answer.body.toString().slice(0, 120)}, the handler says ${expected.body.toString().slice(0, 120)}`);
          }
          // A stored miss is written after the answer: wait for it, so the next spelling can hit it.
          if (answer.headers['x-cache'] === 'MISS') {
            for (let waited = 0; sets === before && waited < 200; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        expect(wrong).toEqual([]);
        // Equivalent spellings do share entries: the corpus is not all misses.
        expect(hits).toBeGreaterThan(5);
      } finally {
        await Promise.all(servers.map((server) => server.close()));
        await cache.clear();
        await cache.close();
      }
    });
  },
);
