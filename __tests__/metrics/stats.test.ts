import { createCache } from '../../lib';
import { TypedEmitter } from '../../lib/engine/events';
import { OTHER_ENDPOINT, StatsCollector, statsOf } from '../../lib/metrics/stats';
import { emit } from './emit';

describe('StatsCollector', () => {
  it('counts every outcome per endpoint and in the totals, with reasons', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector();
    stats.attach(events);
    events.emit('hit', { key: 'a', endpoint: 'users' });
    events.emit('hit', { key: 'a', endpoint: 'users' });
    events.emit('miss', { key: 'a', endpoint: 'users' });
    events.emit('stale', { key: 'a', endpoint: 'users', reason: 'revalidate' });
    events.emit('uncacheable', { key: 'b', endpoint: 'login', reason: 'set-cookie' });
    events.emit('uncacheable', { key: 'b', endpoint: 'login', reason: 'set-cookie' });
    events.emit('bypass', { endpoint: 'login', reason: 'cookie' });
    events.emit('limited', { key: 'c', endpoint: 'spotify', retryAfterMs: 10 });
    events.emit('not-modified', { key: 'a', endpoint: 'users' });
    events.emit('set', { key: 'a', ttl: 60 });
    events.emit('delete', { pattern: '*', count: 3 });
    events.emit('error', { error: new Error('x'), operation: 'get' });
    events.emit('miss', { key: 'character:char_1' }); // a wrap call: counted under the key's type

    const snap = stats.snapshot();
    expect(snap).toMatchObject({ hits: 3, misses: 2, stale: 1, uncacheable: 2, bypassed: 1, limited: 1, notModified: 1, sets: 1, deletes: 3, errors: 1 });
    expect(snap.hitRate).toBeCloseTo(0.6);
    expect(snap.uncacheableReasons).toEqual({ 'set-cookie': 2 });
    expect(snap.bypassReasons).toEqual({ cookie: 1 });
    expect(Object.keys(snap.endpoints).sort()).toEqual(['character', 'login', 'spotify', 'users']);
    expect(snap.endpoints.character).toMatchObject({ hits: 0, misses: 1 });
    expect(snap.endpoints.users).toMatchObject({ hits: 3, misses: 1, stale: 1, notModified: 1, uncacheable: 0, bypassed: 0 });
    expect(snap.endpoints.users?.hitRate).toBeCloseTo(3 / 4);
    expect(snap.endpoints.login).toMatchObject({ hits: 0, misses: 0, uncacheable: 2, bypassed: 1, uncacheableReasons: { 'set-cookie': 2 }, bypassReasons: { cookie: 1 } });
  });

  it('computes hitRate over cacheable requests only: a never-cacheable route is 0 with no misses', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector();
    stats.attach(events);
    for (let i = 0; i < 10; i++) events.emit('uncacheable', { endpoint: 'private', reason: 'private' });
    events.emit('hit', { key: 'k', endpoint: 'private' });
    const row = stats.snapshot().endpoints.private;
    expect(row).toMatchObject({ hits: 1, misses: 0, uncacheable: 10 });
    // Uncacheable answers are not in the denominator: one hit over one cacheable request.
    expect(row?.hitRate).toBe(1);
  });

  it('bounds the endpoint table: names past maxEndpoints share (other)', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector({ maxEndpoints: 3 });
    stats.attach(events);
    for (let i = 0; i < 1_000; i++) events.emit('miss', { key: `k${i}`, endpoint: `/p${i}` });
    events.emit('hit', { key: 'k0', endpoint: '/p0' });
    const { endpoints } = stats.snapshot();
    expect(Object.keys(endpoints)).toEqual(['/p0', '/p1', '/p2', OTHER_ENDPOINT]);
    expect(endpoints['/p0']).toMatchObject({ hits: 1, misses: 1 });
    expect(endpoints[OTHER_ENDPOINT]?.misses).toBe(997);
  });

  it('reads the endpoint of events without one from the key, after the namespace', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector({ namespace: 'app:' });
    stats.attach(events);
    events.emit('hit', { key: `app:api:/characters/:id:${'a'.repeat(40)}:v:${'b'.repeat(40)}` });
    events.emit('hit', { key: 'app:character:char_1' });
    events.emit('stale', { key: 'app:character:char_2', reason: 'error' });
    expect(Object.keys(stats.snapshot().endpoints).sort()).toEqual(['/characters/:id', 'character']);
    expect(stats.snapshot().endpoints.character).toMatchObject({ hits: 1, stale: 1 });
  });

  it('stops counting once detached', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector();
    const detach = stats.attach(events);
    events.emit('hit', { key: 'a' });
    detach();
    events.emit('hit', { key: 'a' });
    expect(stats.snapshot().hits).toBe(1);
  });

  it('statsOf(cache) uses the engine collector when the cache has one', async () => {
    const cache = createCache();
    const own = new StatsCollector();
    own.attach(cache);
    Object.defineProperty(cache, 'statsCollector', { value: own });
    emit(cache, 'hit', { key: 'k', endpoint: 'users' });
    expect(statsOf(cache)).toEqual(own.snapshot());
    expect(statsOf(cache).endpoints.users?.hits).toBe(1);
    await cache.close();
  });

  it('statsOf(cache) gives per-endpoint stats from the cache events', async () => {
    const cache = createCache();
    statsOf(cache);
    emit(cache, 'uncacheable', { key: 'k', endpoint: 'status', reason: 'status' });
    emit(cache, 'hit', { key: 'k', endpoint: 'status' });
    const snap = statsOf(cache);
    expect(snap.endpoints.status).toMatchObject({ hits: 1, uncacheable: 1, uncacheableReasons: { status: 1 } });
    await cache.close();
  });
});
