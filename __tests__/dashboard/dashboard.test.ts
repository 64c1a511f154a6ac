import express from 'express';
import request from 'supertest';
import { type Cache, InvalidOptionError, RedisStore, type Store, cacheResponse, createCache } from '../../lib';
import { cacheDashboard } from '../../lib/dashboard';
import { startRedisServer } from '../helpers/redis-server';
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

  it('refuses every request without token, basic or authorize, with a page saying how to enable it, and warns once at mount', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let closed: ReturnType<typeof cacheDashboard>;
    try {
      closed = cacheDashboard({ cache });
      cacheDashboard({ cache }).close();
      // Once per process, not per mount: a test suite mounting many must not flood the log.
      const locked = warn.mock.calls.filter((call) => (call[1] as { code?: string } | undefined)?.code === 'CACHE_DASHBOARD_LOCKED');
      expect(locked).toHaveLength(1);
      expect(String(locked[0]?.[0])).toContain("every request to it is refused (403)");
    } finally {
      warn.mockRestore();
    }
    const open = express().use('/_cache', closed);
    for (const path of ['/_cache', '/_cache/']) {
      const res = await request(open).get(path).set('x-admin', 'yes').set('accept', 'text/html');
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.text).toContain('This dashboard is locked');
      expect(res.text).toContain('token: process.env.CACHE_DASHBOARD_TOKEN');
      expect(res.text).toContain('basic:');
      expect(res.text).toContain('authorize:');
    }
    const api = await request(open).get('/_cache/stats.json').expect(403);
    expect(api.body.error).toContain('needs a token, basic or authorize option');
    expect((await request(open).post('/_cache/invalidate').set('sec-fetch-site', 'same-origin').send('kind=pattern&value=*')).status).toBe(403);
    closed.close();
    await request(app).get('/_cache/').expect(403);
    await request(app).get('/_cache/stats.json').set('x-admin', 'no').expect(403);
    const throwing = cacheDashboard({ cache, authorize: () => { throw new Error('db down'); } });
    await request(express().use('/_cache', throwing)).get('/_cache/').expect(403);
    throwing.close();
  });

  it('authorize lets a request in only when it returns exactly true (not 1, "yes", an object or a truthy promise)', async () => {
    for (const result of [1, 'yes', 'true', {}, [], Promise.resolve(1), Promise.resolve('true')]) {
      const board = cacheDashboard({ cache, authorize: () => result as never });
      const res = await request(express().use('/_cache', board)).get('/_cache/stats.json');
      board.close();
      expect([String(JSON.stringify(result)), res.status]).toEqual([String(JSON.stringify(result)), 403]);
      expect(res.body.error).toContain('authorize(req) did not return true');
    }
    for (const result of [true, Promise.resolve(true)]) {
      const board = cacheDashboard({ cache, authorize: () => result });
      await request(express().use('/_cache', board)).get('/_cache/stats.json').expect(200);
      board.close();
    }
    const page = await request(express().use('/_cache', dashboard)).get('/_cache/').set('x-admin', 'nope').expect(403);
    expect(page.text).toContain('did not return <code>true</code>');
  });

  it('token: a sign-in page, the token exchanged for an HttpOnly SameSite=Strict cookie on the mount path, bearer for scripts, sign-out', async () => {
    const token = 'correct horse battery staple';
    const board = cacheDashboard({ cache, token });
    const signed = express().use('/_cache', board);
    try {
      const first = await request(signed).get('/_cache/').set('accept', 'text/html').expect(401);
      expect(first.text).toContain('<form id="sign-in"');
      expect(first.text).toContain('action="/_cache/login"');
      expect(first.headers['www-authenticate']).toBe('Bearer realm="cache dashboard"');
      await request(signed).get('/_cache/login').expect(200).expect('content-type', /html/);
      const api = await request(signed).get('/_cache/stats.json').expect(401);
      expect(api.body.error).toContain('sign in at /_cache/login');

      const wrong = await request(signed).post('/_cache/login').set('origin', 'http://x.test').set('host', 'x.test').type('form').send('token=nope');
      expect(wrong.status).toBe(401);
      expect(wrong.text).toContain('Wrong token.');
      expect(wrong.headers['set-cookie']).toBeUndefined();
      // A login posted from another site is refused before the token is even looked at.
      await request(signed).post('/_cache/login').set('sec-fetch-site', 'cross-site').type('form').send(`token=${token}`).expect(403);

      const login = await request(signed).post('/_cache/login').set('sec-fetch-site', 'same-origin').type('form').send(`token=${encodeURIComponent(token)}`);
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/_cache/');
      const cookie = (login.headers['set-cookie'] as unknown as string[])[0] as string;
      expect(cookie).toMatch(/^cache_dashboard_session=\d+\.[A-Za-z0-9_-]{43}; Path=\/_cache\/; Max-Age=28800; HttpOnly; SameSite=Strict$/);
      const session = cookie.split(';')[0] as string;
      await request(signed).get('/_cache/').set('cookie', session).expect(200).expect('content-type', /html/);
      await request(signed).get('/_cache/stats.json').set('cookie', `other=1; ${session}`).expect(200);
      // A forged or altered cookie, or one issued for another mount path, is no session.
      const [expiry, mac] = session.split('=')[1]?.split('.') as [string, string];
      await request(signed).get('/_cache/stats.json').set('cookie', `cache_dashboard_session=${Number(expiry) + 1000}.${mac}`).expect(401);
      const elsewhere = express().use('/admin/cache', board);
      await request(elsewhere).get('/admin/cache/stats.json').set('cookie', session).expect(401);
      // Scripts: the token as a bearer token; JSON sign-in answers JSON.
      await request(signed).get('/_cache/stats.json').set('authorization', `Bearer ${token}`).expect(200);
      await request(signed).get('/_cache/stats.json').set('authorization', 'Bearer wrong-token-123456').expect(401);
      await request(signed).post('/_cache/login').type('json').send('{"token":').expect(400);
      const jsonLogin = await request(signed).post('/_cache/login').send({ token }).expect(200);
      expect(jsonLogin.body).toEqual({ signedIn: true });
      const logout = await request(signed).post('/_cache/logout').set('cookie', session).set('sec-fetch-site', 'same-origin').expect(303);
      expect((logout.headers['set-cookie'] as unknown as string[])[0]).toMatch(/^cache_dashboard_session=; Path=\/_cache\/; Max-Age=0;/);
    } finally {
      board.close();
    }
    expect(() => cacheDashboard({ cache, token: 'short' })).toThrow(/option "token": expected a secret of at least 16 characters/);
  });

  it('basic: 401 with WWW-Authenticate, in with the right username and password only', async () => {
    const board = cacheDashboard({ cache, basic: { username: 'ops', password: 'pa55word!' } });
    const app2 = express().use('/_cache', board);
    try {
      const challenge = await request(app2).get('/_cache/').set('accept', 'text/html').expect(401);
      expect(challenge.headers['www-authenticate']).toBe('Basic realm="cache dashboard", charset="UTF-8"');
      expect(challenge.text).toContain('HTTP Basic');
      await request(app2).get('/_cache/').auth('ops', 'pa55word!').expect(200);
      await request(app2).get('/_cache/stats.json').auth('ops', 'wrong').expect(401);
      await request(app2).get('/_cache/stats.json').auth('root', 'pa55word!').expect(401);
      await request(app2).get('/_cache/stats.json').auth('ops', 'pa55word!').expect(200);
    } finally {
      board.close();
    }
    expect(() => cacheDashboard({ cache, basic: { username: 'a:b', password: 'longenough' } })).toThrow(/option "basic"/);
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

  it('says when an invalidation is pending: the store is down, it was journaled for when it is back', async () => {
    const server = await startRedisServer();
    const down = createCache({ store: new RedisStore({ url: server.url, operationTimeoutMs: 200 }), namespace: 'app' });
    const errors: string[] = [];
    down.on('error', ({ operation }) => errors.push(operation));
    const board = cacheDashboard({ cache: down, authorize: allow });
    try {
      const admin = express().use('/_cache', board);
      await server.stop();
      const res = await request(admin).post('/_cache/invalidate').send({ kind: 'scope', value: 'character', id: '1' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ kind: 'scope', count: 0, pending: true });
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      board.close();
      await down.close();
      await server.stop();
    }
  });

  it('JSON in, JSON out: a JSON POST gets JSON without asking; a script without Origin may post JSON, never a form', async () => {
    await cache.set('content:c1', 1);
    await cache.set('content:c2', 2);
    const res = await request(app).post('/_cache/invalidate').set('x-admin', 'yes').send({ kind: 'pattern', value: 'content:c1' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.body).toEqual({ kind: 'pattern', value: 'content:c1', count: 1, pending: false });
    // JSON from another site, or a form with no Origin at all: refused, nothing removed.
    await request(app).post('/_cache/invalidate').set('x-admin', 'yes').set('origin', 'https://evil.example').send({ kind: 'pattern', value: '*' }).expect(403);
    await request(app).post('/_cache/invalidate').set('x-admin', 'yes').set('sec-fetch-site', 'same-site').send({ kind: 'pattern', value: '*' }).expect(403);
    await request(app).post('/_cache/invalidate').set('x-admin', 'yes').type('text/plain').send('{"kind":"pattern","value":"*"}').expect(403);
    expect(await cache.get('content:c2')).toBe(2);
    const bad = await request(app).post('/_cache/invalidate').set('x-admin', 'yes').type('json').send('{"kind":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/JSON/);
    const notObject = await request(app).post('/_cache/invalidate').set('x-admin', 'yes').type('json').send('[1]');
    expect(notObject.status).toBe(400);
    const badKind = await request(app).post('/_cache/invalidate').set('x-admin', 'yes').send({ kind: 'everything', value: 'x' }).expect(400);
    expect(badKind.body.error).toContain('expected tag, scope or pattern');
  });

  it('entries show the method, path and query they answer (stats.json, entries.json, entry.json), from the entry, not the hash', async () => {
    const site = express();
    site.use('/_cache', dashboard);
    site.get('/search', cacheResponse({ cache, ttl: 60 }), (req, res) => void res.json({ q: req.query.q, pad: 'x'.repeat(2_000) }));
    site.get('/characters/:id', cacheResponse({ cache, ttl: 60, keyPrefix: 'character' }), (req, res) => void res.json({ id: req.params.id }));
    await request(site).get('/search?q=caf%C3%A9&page=2').expect('X-Cache', 'MISS');
    await request(site).get('/characters/7').expect('X-Cache', 'MISS');
    await cache.set('user:u1', { name: 'Ada' });
    let page: { entries: Array<{ key: string; url?: string; endpoint: string }>; cursor: string | null; total: number } = { entries: [], cursor: null, total: 0 };
    for (let i = 0; i < 100 && page.total < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      page = (await request(site).get('/_cache/entries.json').set('x-admin', 'yes').expect(200)).body;
    }
    const byUrl = Object.fromEntries(page.entries.map((e) => [e.url ?? e.key, e]));
    expect(Object.keys(byUrl).sort()).toEqual(['GET /characters/7', 'GET /search?q=caf%C3%A9&page=2', 'user:u1']);
    expect(byUrl['GET /search?q=caf%C3%A9&page=2']?.key).toMatch(/^api:\/search:[0-9a-f]{40}/);
    await request(site).get('/search?q=caf%C3%A9&page=2').expect('X-Cache', 'HIT');
    const stats = (await request(site).get('/_cache/stats.json').set('x-admin', 'yes').expect(200)).body;
    expect(stats.entries.largest[0]).toMatchObject({ url: 'GET /search?q=caf%C3%A9&page=2', endpoint: '/search' });
    expect(stats.entries.mostHit[0]).toMatchObject({ url: 'GET /search?q=caf%C3%A9&page=2', hits: 1 });
    // Paging by key, a pattern, and one entry in full.
    const first = (await request(site).get('/_cache/entries.json?limit=2').set('x-admin', 'yes')).body;
    expect(first.entries).toHaveLength(2);
    const second = (await request(site).get(`/_cache/entries.json?limit=2&cursor=${encodeURIComponent(first.cursor)}`).set('x-admin', 'yes')).body;
    expect(second).toMatchObject({ cursor: null, total: 3 });
    expect([...first.entries, ...second.entries].map((e: { key: string }) => e.key)).toEqual(page.entries.map((e) => e.key).sort());
    const api = (await request(site).get('/_cache/entries.json?pattern=api:*').set('x-admin', 'yes')).body;
    expect(api.total).toBe(2);
    const key = byUrl['GET /characters/7']?.key as string;
    const one = (await request(site).get(`/_cache/entry.json?key=${encodeURIComponent(key)}`).set('x-admin', 'yes').expect(200)).body;
    expect(one).toMatchObject({ key, kind: 'response', status: 200, url: 'GET /characters/7', source: { method: 'GET', path: '/characters/7', query: '' }, body: { id: '7' }, fresh: true });
    await request(site).get('/_cache/entry.json?key=nope').set('x-admin', 'yes').expect(404);
    // Bookkeeping is not an entry, and looking at it must not remove it (read as an entry, it
    // would not decode, and an entry that does not decode is deleted).
    await cache.store.set(`${cache.namespacePrefix}__lock__:api:held`, Buffer.from('a-lock-token'), 60_000);
    await request(site).get(`/_cache/entry.json?key=${encodeURIComponent('__lock__:api:held')}`).set('x-admin', 'yes').expect(404);
    expect((await cache.store.get(`${cache.namespacePrefix}__lock__:api:held`))?.toString()).toBe('a-lock-token');
    await request(site).get('/_cache/entry.json').set('x-admin', 'yes').expect(400);
    await request(site).get('/_cache/entries.json?limit=0').set('x-admin', 'yes').expect(400);
  });

  it('rejects bad options with InvalidOptionError naming them', () => {
    expect(() => cacheDashboard({} as never)).toThrow(InvalidOptionError);
    expect(() => cacheDashboard({ cache, authorize: 'yes' as never })).toThrow(/authorize/);
    expect(() => cacheDashboard({ cache, authorize: allow, sampleIntervalMs: 0 })).toThrow(/sampleIntervalMs/);
  });
});
