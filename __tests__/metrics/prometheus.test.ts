import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { InvalidOptionError, MemoryStore, cacheResponse, createCache } from '../../lib';
import type { Cache } from '../../lib';
import { prometheusMetrics } from '../../lib/metrics/prometheus';
import { emit } from './emit';

async function value(register: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await register.getMetricsAsJSON()).find((m) => m.name === name);
  const found = (metric?.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> | undefined)?.find(
    (v) => (v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`) && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want) && Object.keys(v.labels).filter((k) => k !== 'le').length === Object.keys(labels).length,
  );
  return found?.value;
}

describe('prometheusMetrics', () => {
  let cache: Cache;
  let register: Registry;
  let handler: ReturnType<typeof prometheusMetrics>;

  beforeEach(() => {
    cache = createCache({ store: new MemoryStore() });
    register = new Registry();
    handler = prometheusMetrics({ cache, register });
  });
  afterEach(async () => {
    handler.close();
    await cache.close();
  });

  it('counts requests by endpoint and outcome from the outcome events', async () => {
    emit(cache, 'hit', { key: 'k', endpoint: 'users' });
    emit(cache, 'hit', { key: 'k', endpoint: 'users' });
    emit(cache, 'miss', { key: 'k', endpoint: 'users' });
    emit(cache, 'uncacheable', { endpoint: 'login', reason: 'set-cookie' });
    emit(cache, 'bypass', { endpoint: 'login', reason: 'authorization' });
    emit(cache, 'stale', { key: 'k', endpoint: 'users', reason: 'error' });
    emit(cache, 'limited', { key: 'k', endpoint: 'users', retryAfterMs: 5 });
    emit(cache, 'not-modified', { key: 'k', endpoint: 'users' });
    const at = (endpoint: string, outcome: string) => value(register, 'http_cache_requests_total', { endpoint, outcome });
    expect(await at('users', 'hit')).toBe(2);
    expect(await at('users', 'miss')).toBe(1);
    expect(await at('users', 'stale')).toBe(1);
    expect(await at('users', 'limited')).toBe(1);
    expect(await at('users', 'not-modified')).toBe(1);
    expect(await at('login', 'uncacheable')).toBe(1);
    expect(await at('login', 'bypass')).toBe(1);
  });

  it('records fills in the origin histogram, errors, and the breaker gauge', async () => {
    emit(cache, 'fill', { key: 'k', endpoint: 'users', durationMs: 30, stored: true });
    emit(cache, 'fill', { key: 'k', endpoint: 'users', durationMs: 3000, stored: false });
    emit(cache, 'error', { error: new Error('down'), operation: 'get' });
    const histogram = (await register.getMetricsAsJSON()).find((m) => m.name === 'http_cache_origin_duration_seconds');
    const values = histogram?.values as Array<{ value: number; labels: Record<string, string | number>; metricName: string }>;
    expect(values.find((v) => v.metricName.endsWith('_count'))?.value).toBe(2);
    expect(values.find((v) => v.metricName.endsWith('_sum'))?.value).toBeCloseTo(3.03);
    expect(values.find((v) => v.labels.le === 0.05)?.value).toBe(1);
    expect(await value(register, 'http_cache_errors_total', { store: 'memory', operation: 'get' })).toBe(1);
    expect(await value(register, 'http_cache_breaker_open', { store: 'memory' })).toBe(0);
    emit(cache, 'degraded', { store: 'memory', error: new Error('down') });
    expect(await value(register, 'http_cache_breaker_open', { store: 'memory' })).toBe(1);
    emit(cache, 'recovered', { store: 'memory', downtimeMs: 10 });
    expect(await value(register, 'http_cache_breaker_open', { store: 'memory' })).toBe(0);
  });

  it('times real store operations and reports MemoryStore entries and bytes', async () => {
    await cache.set('a', 'x'.repeat(100));
    await cache.get('a');
    await cache.get('b');
    const histogram = (await register.getMetricsAsJSON()).find((m) => m.name === 'http_cache_store_duration_seconds');
    const counts = (histogram?.values as Array<{ value: number; labels: Record<string, string | number>; metricName: string }>).filter((v) => v.metricName.endsWith('_count'));
    expect(counts.find((v) => v.labels.operation === 'get')?.value).toBe(2);
    expect(counts.find((v) => v.labels.operation === 'set')?.value).toBe(1);
    expect(await value(register, 'http_cache_entries', { store: 'memory' })).toBe(1);
    expect(await value(register, 'http_cache_bytes', { store: 'memory' })).toBeGreaterThan(100);
  });

  it('serves the text format over Express, parsable by a Prometheus scraper', async () => {
    emit(cache, 'hit', { key: 'k', endpoint: 'users' });
    const app = express();
    app.get('/metrics', handler);
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toContain('# TYPE http_cache_requests_total counter');
    expect(res.text).toContain('http_cache_requests_total{endpoint="users",outcome="hit"} 1');
    expect(res.text).toContain('# TYPE http_cache_store_duration_seconds histogram');
  });

  it('bounds endpoint labels like the stats table', async () => {
    for (let i = 0; i < 300; i++) emit(cache, 'miss', { key: `k${i}`, endpoint: `/hostile/${i}` });
    const metric = (await register.getMetricsAsJSON()).find((m) => m.name === 'http_cache_requests_total');
    const labels = new Set((metric?.values ?? []).map((v) => String(v.labels.endpoint)));
    expect(labels.size).toBe(201);
    expect(await value(register, 'http_cache_requests_total', { endpoint: '(other)', outcome: 'miss' })).toBe(100);
  });

  it('close() stops counting and unregisters', async () => {
    handler.close();
    emit(cache, 'hit', { key: 'k', endpoint: 'users' });
    expect(await register.getMetricsAsJSON()).toEqual([]);
    handler = prometheusMetrics({ cache, register }); // registering again works after close
  });

  it('rejects a missing cache with InvalidOptionError', () => {
    expect(() => prometheusMetrics({} as never)).toThrow(InvalidOptionError);
  });
});

// End to end through cacheResponse: needs the middleware to emit outcome events with `endpoint`
// (issue 10's engine rewrite); until that lands the endpoint label is missing.
describe('prometheusMetrics with cacheResponse', () => {
  it('counts a miss then a hit for the route endpoint', async () => {
    const cache = createCache();
    const register = new Registry();
    const metrics = prometheusMetrics({ cache, register });
    const app = express();
    app.get('/metrics', metrics);
    app.get('/users', cacheResponse({ cache, keyPrefix: 'users', ttl: 60 }), (_req, res) => void res.json({ ok: true }));
    await request(app).get('/users').expect('X-Cache', 'MISS');
    for (let i = 0; i < 50 && cache.stats().sets < 1; i++) await new Promise((r) => setTimeout(r, 5));
    await request(app).get('/users').expect('X-Cache', 'HIT');
    const text = (await request(app).get('/metrics')).text;
    expect(text).toContain('http_cache_requests_total{endpoint="users",outcome="miss"} 1');
    expect(text).toContain('http_cache_requests_total{endpoint="users",outcome="hit"} 1');
    expect(text).toMatch(/http_cache_origin_duration_seconds_count\{endpoint="users"\} 1/);
    metrics.close();
    await cache.close();
  });
});

// Issue 25: the metrics name endpoints and error rates; `authorize` keeps them private, like the dashboard's.
describe.each([
  ['Express 5', () => express()],
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ['Express 4', () => (require('express4') as typeof express)()],
])('prometheusMetrics with authorize (%s)', (_name, create) => {
  it('answers 403 unless authorize(req) is true (a throw or a rejection counts as false)', async () => {
    const cache = createCache();
    const register = new Registry();
    const app = create();
    const metrics = prometheusMetrics({
      cache,
      register,
      authorize: async (req) => {
        if (req.get('x-token') === 'throw') throw new Error('auth service down');
        return req.get('x-token') === 'scraper';
      },
    });
    app.get('/metrics', metrics);
    try {
      for (const token of [undefined, 'wrong', 'throw']) {
        const denied = await (token === undefined ? request(app).get('/metrics') : request(app).get('/metrics').set('x-token', token));
        expect(denied.status).toBe(403);
        expect(denied.text).not.toContain('http_cache_');
      }
      const allowed = await request(app).get('/metrics').set('x-token', 'scraper');
      expect(allowed.status).toBe(200);
      expect(allowed.text).toContain('http_cache_requests_total');
    } finally {
      metrics.close();
      await cache.close();
    }
  });

  it('rejects an authorize that is not a function, naming the option', () => {
    const cache = createCache();
    expect(() => prometheusMetrics({ cache, register: new Registry(), authorize: 'yes' as never })).toThrow(/option "authorize"/);
    return cache.close();
  });
});
