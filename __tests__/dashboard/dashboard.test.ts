import express from 'express';
import request from 'supertest';
import { type Cache, InvalidOptionError, type Store, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { emit } from '../metrics/emit';

const allow = () => true;

describe('cacheDashboard over HTTP', () => {
  let cache: Cache;
  let app: express.Express;
  let dashboard: ReturnType<typeof cacheDashboard>;

  beforeEach(() => {
    cache = createCache({ namespace: 'app' });
    dashboard = cacheDashboard({ cache, authorize: (req) => req.get('x-admin') === 'yes', sampleIntervalMs: 50 });
    app = express();
    app.use('/_cache', dashboard);
  });
  afterEach(async () => {
    dashboard.close();
    await cache.close();
  });

  it('refuses every request without authorize, and when authorize says no or throws', async () => {
    const closed = cacheDashboard({ cache });
    const open = express().use('/_cache', closed);
    for (const path of ['/_cache', '/_cache/', '/_cache/stats.json']) {
      const res = await request(open).get(path).set('x-admin', 'yes');
      expect(res.status).toBe(403);
      expect(res.text).toContain('needs an authorize(req) option');
    }
    expect((await request(open).post('/_cache/invalidate').set('sec-fetch-site', 'same-origin').send('kind=pattern&value=*')).status).toBe(403);
    closed.close();
    await request(app).get('/_cache/').expect(403);
    await request(app).get('/_cache/stats.json').set('x-admin', 'no').expect(403);
    const throwing = cacheDashboard({ cache, authorize: () => { throw new Error('db down'); } });
    await request(express().use('/_cache', throwing)).get('/_cache/').expect(403);
    throwing.close();
  });

  it('serves the page with a strict CSP and no external resources', async () => {
    const res = await request(app).get('/_cache/').set('x-admin', 'yes').expect(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'nonce-[^']+'/);
    expect(res.text).not.toMatch(/(?:src|href|action)=["']?(?:https?:)?\/\//);
    expect(res.text).not.toMatch(/<script[^>]+src=/);
    expect(res.text).toContain('"base":"/_cache"');
  });

  it('stats.json has per-endpoint stats with reasons, history points, store health and entries', async () => {
    await cache.set('character:char_1', { name: 'Ada' }, { ttl: 60 });
    await cache.set('character:char_2', 'x'.repeat(5_000), { ttl: 60 });
    await cache.get('character:char_1');
    emit(cache, 'uncacheable', { key: 'app:api:login:x', endpoint: 'login', reason: 'set-cookie' });
    emit(cache, 'bypass', { endpoint: 'login', reason: 'authorization' });
    emit(cache, 'hit', { key: 'app:api:users:x', endpoint: 'users' });
    emit(cache, 'miss', { key: 'app:api:users:x', endpoint: 'users' });
    emit(cache, 'error', { error: new Error('redis timeout'), operation: 'get', key: 'app:x' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const { body } = await request(app).get('/_cache/stats.json').set('x-admin', 'yes').expect(200);
    expect(body.stats.endpoints.login).toMatchObject({ uncacheable: 1, bypassed: 1, uncacheableReasons: { 'set-cookie': 1 }, bypassReasons: { authorization: 1 } });
    expect(body.stats.endpoints.users).toMatchObject({ hits: 1, misses: 1, hitRate: 0.5 });
    expect(body.stats.endpoints.character).toMatchObject({ hits: 1 });
    const points = body.history.users as Array<{ hitRate: number | null; hits: number; misses: number }>;
    expect(points.some((p) => p.hitRate === 0.5 && p.hits === 1 && p.misses === 1)).toBe(true);
    expect(body.store).toMatchObject({ name: 'memory', breaker: 'closed', lastError: { message: 'redis timeout', operation: 'get' } });
    expect(body.entries.largest[0]).toMatchObject({ key: 'character:char_2', endpoint: 'character' });
    expect(body.entries.largest).toHaveLength(2);
    expect(body.entries.mostHit[0]).toEqual({ key: 'character:char_1', hits: 1 });
  });

  it('shows the breaker open and the last error when the store fails', async () => {
    class DownStore implements Store {
      readonly name = 'down';
      async get(): Promise<Buffer | undefined> {
        throw new Error('connection refused');
      }
      async set() {}
      async delete() {
        return false;
      }
      async clear() {}
      async close() {}
    }
    const failing = createCache({ store: new DownStore(), breaker: { failureThreshold: 1, coolDownMs: 60_000 } });
    const board = cacheDashboard({ cache: failing, authorize: allow });
    const down = express().use('/_cache', board);
    const before = await request(down).get('/_cache/stats.json').expect(200);
    expect(before.body.store).toMatchObject({ name: 'down', breaker: 'closed', lastError: null, degradedSince: null });
    expect(before.body.entries.largest).toBeNull(); // this store cannot list entries
    expect(await failing.get('x')).toBeUndefined();
    const after = await request(down).get('/_cache/stats.json').expect(200);
    expect(after.body.store).toMatchObject({ breaker: 'open', lastError: { message: 'connection refused', operation: 'get' }, degradedSince: expect.any(Number) });
    expect(after.body.stats.errors).toBe(1);
    board.close();
    await failing.close();
  });

  it('invalidates a tag, a scope and a pattern from a same-origin POST only', async () => {
    await cache.set('character:char_1', 1, { tags: ['team:blue'] });
    await cache.set('character:char_2', 2);
    await cache.set('content:c1', 3);
    const post = (body: string) => request(app).post('/_cache/invalidate').set('x-admin', 'yes').set('accept', 'application/json').type('form').send(body);
    // Cross-site: refused, nothing removed.
    await post('kind=pattern&value=*').set('sec-fetch-site', 'cross-site').expect(403);
    await post('kind=pattern&value=*').set('origin', 'https://evil.example').expect(403);
    await post('kind=pattern&value=*').expect(403); // neither header: not provably same-origin
    expect(await cache.get('content:c1')).toBe(3);
    const tag = await post('kind=tag&value=team:blue').set('sec-fetch-site', 'same-origin').expect(200);
    expect(tag.body).toMatchObject({ kind: 'tag', count: 1 });
    expect(await cache.get('character:char_1')).toBeUndefined();
    await post('kind=scope&value=character&id=char_2').set('host', 'admin.local').set('origin', 'http://other.local').expect(403);
    const scope = await post('kind=scope&value=character&id=char_2').set('host', 'admin.local').set('origin', 'http://admin.local').expect(200);
    expect(scope.body.count).toBe(1);
    const pattern = await post('kind=pattern&value=content:*').set('sec-fetch-site', 'same-origin').expect(200);
    expect(pattern.body.count).toBe(1);
    const bad = await post('kind=nope&value=x').set('sec-fetch-site', 'same-origin').expect(400);
    expect(bad.body.error).toContain('expected tag, scope or pattern');
    await request(app).get('/_cache/invalidate').set('x-admin', 'yes').expect(405);
    // A plain form POST (no JavaScript) is redirected back to the page.
    const form = await request(app).post('/_cache/invalidate').set('x-admin', 'yes').set('sec-fetch-site', 'same-origin').type('form').send('kind=pattern&value=none:*');
    expect(form.status).toBe(303);
    expect(form.headers.location).toBe('/_cache/?removed=0');
  });

  it('rejects bad options with InvalidOptionError naming them', () => {
    expect(() => cacheDashboard({} as never)).toThrow(InvalidOptionError);
    expect(() => cacheDashboard({ cache, authorize: 'yes' as never })).toThrow(/authorize/);
    expect(() => cacheDashboard({ cache, authorize: allow, sampleIntervalMs: 0 })).toThrow(/sampleIntervalMs/);
  });
});
