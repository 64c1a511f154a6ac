import request from 'supertest';
import { type Cache, MemoryStore, cacheResponse, createCache, getResponse } from '../../lib';
import { listEntries } from '../../lib/metrics/inventory';
import { CorruptEntryError, type ResponseEntry, decodeEntry, encodeEntry, formatSource, peekSource } from '../../lib/serializer';
import { EXPRESS_VERSIONS } from './helpers';

const entry = (overrides: Partial<ResponseEntry> = {}): ResponseEntry => ({
  kind: 'response',
  status: 200,
  headers: { 'content-type': 'text/plain' },
  body: Buffer.from('hello'),
  createdAt: 1,
  expiresAt: 2,
  ...overrides,
});

describe('the request source of a stored response', () => {
  test('round-trips through the serializer, and is read from the first bytes alone', () => {
    const source = { method: 'GET', path: '/search', query: 'q=%C3%A9t%C3%A9&page=2' };
    const bytes = encodeEntry(entry({ source, body: Buffer.alloc(100_000, 1) }));
    expect((decodeEntry(bytes) as ResponseEntry).source).toEqual(source);
    expect(peekSource(bytes.subarray(0, 512))).toEqual({ source });
    const short = peekSource(bytes.subarray(0, 20));
    expect(short.source).toBeUndefined();
    expect(peekSource(bytes.subarray(0, short.needed))).toEqual({ source });
    expect(formatSource(source)).toBe('GET /search?q=%C3%A9t%C3%A9&page=2');
    expect(formatSource({ method: 'HEAD', path: '/a', query: '' })).toBe('HEAD /a');
    // Older entries have none; a value entry is not a response.
    expect((decodeEntry(encodeEntry(entry())) as ResponseEntry).source).toBeUndefined();
    expect(peekSource(encodeEntry({ kind: 'value', value: 1, createdAt: 1, expiresAt: 2 }))).toEqual({});
    // A malformed source (written by something else) is a corrupt entry, so a miss.
    const bad = encodeEntry(entry({ source: { method: 'GET', path: 7, query: '' } as never }));
    expect(() => decodeEntry(bad)).toThrow(CorruptEntryError);
  });

  describe.each(EXPRESS_VERSIONS)('cacheResponse on $name', ({ express }) => {
    let cache: Cache;
    afterEach(() => cache.close());

    test('stores method, path (mount path included) and raw query with the answer', async () => {
      cache = createCache({ store: new MemoryStore() });
      const app = express();
      const router = express.Router();
      router.get('/characters/:id', cacheResponse({ cache, ttl: 60 }), (req, res) => void res.json({ id: req.params.id }));
      app.use('/v1', router);
      await request(app).get('/v1/characters/7?lang=en&x=%20y').expect(200).expect('X-Cache', 'MISS');
      let keys: string[] = [];
      for (let i = 0; i < 200 && keys.length === 0; i++) {
        keys = ((await listEntries(cache.store, cache.namespacePrefix, 10)) ?? []).map((e) => e.key).filter((k) => k.startsWith('api:'));
        if (keys.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(keys).toHaveLength(1);
      const stored = await getResponse(cache, keys[0] as string);
      expect(stored?.source).toEqual({ method: 'GET', path: '/v1/characters/7', query: 'lang=en&x=%20y' });
      await request(app).get('/v1/characters/7?lang=en&x=%20y').expect(200).expect('X-Cache', 'HIT');
    });
  });
});
