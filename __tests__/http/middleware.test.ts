import type { Express, Request, Response } from 'express';
import request from 'supertest';
import { type Cache, type FullStore, InvalidOptionError, MemoryStore, cacheResponse, configureCache, createCache, getDefaultCache } from '../../lib';
import { EXPRESS_VERSIONS, PNG } from '../helpers/apps';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

/** Waits until the store write that follows a MISS has landed (it runs after the response). */
async function settle(cache: Cache, sets: number): Promise<void> {
  for (let i = 0; i < 200 && cache.stats().sets < sets; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe.each(EXPRESS_VERSIONS)('cacheResponse on $name', ({ create }) => {
  describe.each(STORE_KINDS)('with $name', (kind) => {
    let cache: Cache;
    let app: Express;
    let calls: Record<string, number>;

    beforeEach(() => {
      cache = createCache({ store: kind.make() });
      calls = {};
      const count = (name: string): void => void (calls[name] = (calls[name] ?? 0) + 1);
      app = create();
      const cached = (ttl = 60) => cacheResponse({ cache, ttl });
      app.get('/json', cached(), (req: Request, res: Response) => {
        count('json');
        res.json({ n: calls.json, q: req.query });
      });
      app.get('/png', cached(), (_req, res) => {
        count('png');
        res.type('png').send(PNG);
      });
      app.get('/chunked', cached(), (_req, res) => {
        count('chunked');
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.write('part one, ');
        res.write(Buffer.from('part two, '));
        res.end('é end');
      });
      app.get('/cookie', cached(), (_req, res) => {
        count('cookie');
        res.cookie('session', 'secret').send('personal');
      });
      app.get('/error', cached(), (_req, res) => {
        count('error');
        res.status(500).send('boom');
      });
      app.get('/no-store', cached(), (_req, res) => {
        count('no-store');
        res.set('Cache-Control', 'no-store').send('x');
      });
      app.get('/private', cached(), (_req, res) => {
        count('private');
        res.set('Cache-Control', 'private, max-age=60').send('x');
      });
      app.get('/created', cacheResponse({ cache, statuses: [200, 203] }), (_req, res) => {
        count('created');
        res.status(203).send('non-authoritative');
      });
      app.post('/json', cached(), (_req, res) => {
        count('post');
        res.json({ posted: true });
      });
      app.get('/shared-auth', cacheResponse({ cache, shareAuthenticated: true }), (_req, res) => {
        count('shared-auth');
        res.send('same for all');
      });
    });
    afterEach(() => cache.close());

    test('first request is a MISS from the handler, the second a HIT with the same status, type and body', async () => {
      const miss = await request(app).get('/json?x=1');
      expect(miss.status).toBe(200);
      expect(miss.headers['x-cache']).toBe('MISS');
      await settle(cache, 1);
      const hit = await request(app).get('/json?x=1');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.status).toBe(200);
      expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
      expect(hit.text).toBe(miss.text);
      expect(hit.headers.age).toMatch(/^\d+$/);
      expect(calls.json).toBe(1);
    });

    test('stats count one miss and one hit for a MISS followed by a HIT', async () => {
      await request(app).get('/json?stats=1');
      await settle(cache, 1);
      await request(app).get('/json?stats=1');
      expect(cache.stats()).toMatchObject({ misses: 1, hits: 1, sets: 1 });
    });

    test('a PNG sent with res.send(buffer) comes back byte-identical with image/png', async () => {
      await request(app).get('/png');
      await settle(cache, 1);
      const hit = await request(app).get('/png').buffer(true).parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-type']).toBe('image/png');
      expect(Buffer.compare(hit.body as Buffer, PNG)).toBe(0);
      expect(calls.png).toBe(1);
    });

    test('bodies written with res.write and res.end (string and Buffer) are captured whole', async () => {
      const miss = await request(app).get('/chunked');
      await settle(cache, 1);
      const hit = await request(app).get('/chunked');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.text).toBe('part one, part two, é end');
      expect(hit.text).toBe(miss.text);
      expect(Number(hit.headers['content-length'])).toBe(Buffer.byteLength(miss.text));
    });

    test('two orders of one query share one entry; different values do not', async () => {
      await request(app).get('/json?a=1&b=2');
      await settle(cache, 1);
      const swapped = await request(app).get('/json?b=2&a=1');
      expect(swapped.headers['x-cache']).toBe('HIT');
      const other = await request(app).get('/json?a=1&b=3');
      expect(other.headers['x-cache']).toBe('MISS');
      expect(calls.json).toBe(2);
    });

    test.each(['/cookie', '/error', '/no-store', '/private'])('%s answers are never stored', async (path) => {
      await request(app).get(path);
      const second = await request(app).get(path);
      expect(second.headers['x-cache']).toBe('UNCACHEABLE');
      expect(calls[path.slice(1)]).toBe(2);
      expect(second.headers['set-cookie']).toEqual(path === '/cookie' ? ['session=secret; Path=/'] : undefined);
      expect(cache.stats().sets).toBe(0);
    });

    test('POST is never served from nor stored in the cache', async () => {
      await request(app).get('/json');
      await settle(cache, 1);
      const post = await request(app).post('/json');
      expect(post.body).toEqual({ posted: true });
      expect(post.headers['x-cache']).toBeUndefined();
      await request(app).post('/json');
      expect(calls.post).toBe(2);
      expect(cache.stats().sets).toBe(1);
    });

    test('the statuses option allows other statuses', async () => {
      await request(app).get('/created');
      await settle(cache, 1);
      const hit = await request(app).get('/created');
      expect(hit.status).toBe(203);
      expect(hit.headers['x-cache']).toBe('HIT');
    });

    test('HEAD is answered from the GET entry without a body', async () => {
      const headMiss = await request(app).head('/json?h=1');
      expect(headMiss.headers['x-cache']).toBe('MISS');
      await request(app).get('/json?h=1');
      await settle(cache, 1);
      const head = await request(app).head('/json?h=1');
      expect(head.status).toBe(200);
      expect(head.headers['x-cache']).toBe('HIT');
      expect(head.text ?? '').toBe('');
      expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    });

    test('requests with Authorization bypass the shared cache unless the route opts in', async () => {
      await request(app).get('/json?p=1');
      await settle(cache, 1);
      const authed = await request(app).get('/json?p=1').set('Authorization', 'Bearer alice');
      expect(authed.headers['x-cache']).toBe('BYPASS');
      expect(cache.stats().sets).toBe(1);
      expect(calls.json).toBe(2);

      await request(app).get('/shared-auth').set('Authorization', 'Bearer alice');
      await settle(cache, 2);
      const shared = await request(app).get('/shared-auth').set('Authorization', 'Bearer bob');
      expect(shared.headers['x-cache']).toBe('HIT');
    });
  });
});

describe('cacheResponse options and defaults', () => {
  test('invalid options throw InvalidOptionError at construction, naming the option', () => {
    expect(() => cacheResponse({ ttl: 'no_such_profile' })).toThrow(/option "ttl": unknown TTL profile/);
    expect(() => cacheResponse({ ttl: -1 })).toThrow(InvalidOptionError);
    expect(() => cacheResponse({ statuses: [99] })).toThrow(/option "statuses"/);
    expect(() => cacheResponse({ statuses: [200, 204] })).toThrow(/option "statuses": 204 is never stored/);
    expect(() => cacheResponse({ maxBodyBytes: 0 })).toThrow(/option "maxBodyBytes"/);
    expect(() => cacheResponse({ keyPrefix: '' })).toThrow(/option "keyPrefix"/);
  });

  test('keys are api:{keyPrefix}:{hash}, or the route path without keyPrefix; the default cache is used when none is given', async () => {
    const cache = configureCache({ namespace: 'app' });
    expect(getDefaultCache()).toBe(cache);
    const app = EXPRESS_VERSIONS[0]!.create();
    app.get('/status', cacheResponse({ keyPrefix: 'status', ttl: 'system_status' }), (_req, res) => res.send('ok'));
    app.get('/characters/:id', cacheResponse(), (req, res) => res.send(String(req.params.id)));
    await request(app).get('/status');
    await request(app).get('/characters/7');
    await settle(cache, 2);
    expect(await (cache.store as FullStore).deletePattern('app:api:status:*')).toBe(1);
    expect(await (cache.store as FullStore).deletePattern('app:api:/characters/:id:*')).toBe(1);
    await cache.close();
  });

  test('a hit needs no TTL: after its profile is gone from the default cache, stored answers still hit and new ones go to the handler', async () => {
    const store = new MemoryStore();
    configureCache({ store, ttlProfiles: { shortlived: 60 } });
    const app = EXPRESS_VERSIONS[0]!.create();
    let calls = 0;
    app.get('/p/:id', cacheResponse({ keyPrefix: 'p', ttl: 'shortlived' }), (req, res) => {
      calls++;
      res.send(String(req.params.id));
    });
    expect((await request(app).get('/p/1')).headers['x-cache']).toBe('MISS');
    await settle(getDefaultCache(), 1);
    // The same store, without the profile the route names.
    const replaced = configureCache({ store });
    const hit = await request(app).get('/p/1');
    expect([hit.headers['x-cache'], hit.text]).toEqual(['HIT', '1']);
    const other = await request(app).get('/p/2');
    expect([other.status, other.text, other.headers['x-cache']]).toEqual([200, '2', undefined]);
    expect(calls).toBe(2);
    expect(replaced.stats().sets).toBe(0);
    await replaced.close();
  });

  test('answers above maxBodyBytes pass through uncached', async () => {
    const cache = createCache();
    const app = EXPRESS_VERSIONS[0]!.create();
    app.get('/big', cacheResponse({ cache, maxBodyBytes: 100 }), (_req, res) => res.send('x'.repeat(101)));
    const first = await request(app).get('/big');
    expect(first.text).toHaveLength(101);
    expect((await request(app).get('/big')).headers['x-cache']).toBe('MISS');
    expect(cache.stats().sets).toBe(0);
  });
});
