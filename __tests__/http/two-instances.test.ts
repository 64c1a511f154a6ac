import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Cache, RedisStore, cacheResponse, createCache } from '../../lib';
import { testRedisClient } from '../helpers/redis';
import { EXPRESS_VERSIONS, type Running, destroyAgent, listen, request, whenSet } from './helpers';

// Two Express apps on two servers, each with its own Redis client and Cache, sharing one Redis:
// what two processes of one service behind a load balancer look like.
describe.each(EXPRESS_VERSIONS)('two app instances sharing one Redis ($name)', ({ express }) => {
  const clients: Redis[] = [];
  const caches: Cache[] = [];
  const servers: Running[] = [];
  let ports: [number, number];
  let originCalls: number;

  beforeEach(async () => {
    const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
    originCalls = 0;
    for (let i = 0; i < 2; i++) {
      const client = testRedisClient({ keyPrefix });
      clients.push(client);
      const cache = createCache({ store: new RedisStore({ client, operationTimeoutMs: 2_000 }), namespace: 'shared' });
      caches.push(cache);
      const app = express();
      app.get('/weak', cacheResponse({ cache, ttl: 60 }), (_req, res) => {
        originCalls++;
        res.send('express computes a weak etag');
      });
      const strong = express();
      app.use('/strong', strong);
      strong.set('etag', false);
      strong.get('/', cacheResponse({ cache, ttl: 60, keyPrefix: 'strong' }), (_req, res) => {
        originCalls++;
        res.send('the cache computes a strong etag');
      });
      app.get('/greeting', cacheResponse({ cache, ttl: 60 }), (req, res) => {
        originCalls++;
        res.set('Vary', 'Accept-Language');
        res.send(req.acceptsLanguages('fr', 'en') === 'fr' ? 'bonjour' : 'hello');
      });
      servers.push(await listen(app));
    }
    ports = [servers[0]!.port, servers[1]!.port];
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(caches.splice(0).map((c) => c.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  afterAll(destroyAgent);

  test.each(['/weak', '/strong'])('%s: both instances send the same ETag and either answers 304 for it', async (path) => {
    const stored = whenSet(caches[0]!);
    const miss = await request(ports[0], path);
    await stored;
    const hitA = await request(ports[0], path);
    const hitB = await request(ports[1], path);
    expect(hitB.headers['x-cache']).toBe('HIT');
    const etag = hitA.headers.etag as string;
    expect(etag).toBeDefined();
    expect(hitB.headers.etag).toBe(etag);
    if (path === '/weak') expect(miss.headers.etag).toBe(etag);
    else expect(etag).not.toMatch(/^W\//);
    for (const port of ports) {
      const notModified = await request(port, path, { headers: { 'if-none-match': etag } });
      expect(notModified.status).toBe(304);
      expect(notModified.body.length).toBe(0);
      expect(notModified.headers.etag).toBe(etag);
    }
    expect(originCalls).toBe(1);
  });

  test('Accept-Language variants stored by either instance are replayed separately by both', async () => {
    const fr = whenSet(caches[0]!, 2);
    await request(ports[0], '/greeting', { headers: { 'accept-language': 'fr' } });
    await fr;
    const en = whenSet(caches[1]!, 2);
    await request(ports[1], '/greeting', { headers: { 'accept-language': 'en' } });
    await en;
    for (const port of ports) {
      const french = await request(port, '/greeting', { headers: { 'accept-language': 'fr' } });
      const english = await request(port, '/greeting', { headers: { 'accept-language': 'en' } });
      expect([french.headers['x-cache'], english.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(french.body.toString()).toBe('bonjour');
      expect(english.body.toString()).toBe('hello');
    }
    expect(originCalls).toBe(2);
  });
});
