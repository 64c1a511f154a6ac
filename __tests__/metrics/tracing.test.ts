import diagnostics from 'node:diagnostics_channel';
import express from 'express';
import request from 'supertest';
import { MemoryStore, cacheResponse, canDeletePattern, canDeleteTags, canLock, canRateLimit, createCache } from '../../lib';
import type { Store } from '../../lib';
import { InstrumentedStore, type StoreOperation, storeLayers } from '../../lib/metrics/instrumented-store';
import { CHANNELS, type StoreTraceContext, traceFill, traceLookup } from '../../lib/metrics/tracing';

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

function record(name: string): { seen: Array<{ phase: Phase; ctx: Record<string, unknown> }>; stop(): void } {
  const seen: Array<{ phase: Phase; ctx: Record<string, unknown> }> = [];
  const handler = (phase: Phase) => (ctx: unknown) => void seen.push({ phase, ctx: { ...(ctx as Record<string, unknown>) } });
  const handlers = { start: handler('start'), end: handler('end'), asyncStart: handler('asyncStart'), asyncEnd: handler('asyncEnd'), error: handler('error') };
  const channel = diagnostics.tracingChannel(name);
  channel.subscribe(handlers);
  return { seen, stop: () => channel.unsubscribe(handlers) };
}

/** A store with only the core methods, whose get fails on demand. */
class CoreStore implements Store {
  readonly name = 'core';
  fail = false;
  private readonly map = new Map<string, Buffer>();
  async get(key: string) {
    if (this.fail) throw new Error('boom');
    return this.map.get(key);
  }
  async set(key: string, value: Buffer) {
    this.map.set(key, value);
  }
  async delete(key: string) {
    return this.map.delete(key);
  }
  async clear() {
    this.map.clear();
  }
  async close() {}
}

describe('InstrumentedStore', () => {
  it('forwards exactly the capabilities of its store', () => {
    const full = new InstrumentedStore(new MemoryStore());
    expect([canDeletePattern(full), canDeleteTags(full), canLock(full), canRateLimit(full)]).toEqual([true, true, true, true]);
    const core = new InstrumentedStore(new CoreStore());
    expect([canDeletePattern(core), canDeleteTags(core), canLock(core), canRateLimit(core)]).toEqual([false, false, false, false]);
  });

  it('publishes each operation on the store tracing channel, errors included', async () => {
    const inner = new CoreStore();
    const store = new InstrumentedStore(inner);
    const trace = record(CHANNELS.store);
    try {
      await store.set('k', Buffer.from('v'), 1000);
      expect((await store.get('k'))?.toString()).toBe('v');
      inner.fail = true;
      await expect(store.get('k')).rejects.toThrow('boom');
    } finally {
      trace.stop();
    }
    const starts = trace.seen.filter((s) => s.phase === 'start').map((s) => s.ctx as unknown as StoreTraceContext);
    expect(starts.map((c) => [c.store, c.operation, c.key])).toEqual([
      ['core', 'set', 'k'],
      ['core', 'get', 'k'],
      ['core', 'get', 'k'],
    ]);
    const ends = trace.seen.filter((s) => s.phase === 'asyncEnd');
    expect((ends[1]?.ctx.result as Buffer).toString()).toBe('v');
    const errors = trace.seen.filter((s) => s.phase === 'error');
    expect(errors).toHaveLength(1);
    expect((errors[0]?.ctx.error as Error).message).toBe('boom');
  });

  it('publishes nothing and times nothing without subscribers (the wrapper is a pass-through)', async () => {
    const store = new InstrumentedStore(new MemoryStore());
    expect(diagnostics.tracingChannel(CHANNELS.store).hasSubscribers).toBe(false);
    const seen: StoreOperation[] = [];
    await store.set('a', Buffer.from('1'), 1000);
    const stop = store.observe((op) => seen.push(op));
    await store.get('a');
    stop();
    await store.get('a');
    expect(seen.map((op) => [op.store, op.operation])).toEqual([['memory', 'get']]);
    expect(seen[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('is in the stack createCache builds, around the primary and the fallback', async () => {
    const cache = createCache({ fallback: new MemoryStore() });
    const layers = storeLayers(cache.store);
    expect(layers.filter((layer) => layer instanceof InstrumentedStore)).toHaveLength(2);
    const trace = record(CHANNELS.store);
    try {
      await cache.set('x', 1);
      await cache.get('x');
    } finally {
      trace.stop();
    }
    const ops = trace.seen.filter((s) => s.phase === 'start').map((s) => `${String(s.ctx.store)}:${String(s.ctx.operation)}:${String(s.ctx.key)}`);
    expect(ops).toEqual(['memory:set:x', 'memory:get:x']);
    await cache.close();
  });
});

describe('lookup and fill traces from the engine', () => {
  it('a cacheResponse miss traces its lookup and its fill (with the endpoint); a hit only its lookup', async () => {
    const cache = createCache({ namespace: 'tr' });
    const app = express();
    app.get('/users', cacheResponse({ cache, keyPrefix: 'users', ttl: 60 }), (_req, res) => void res.json({ ok: true }));
    const lookups = record(CHANNELS.lookup);
    const fills = record(CHANNELS.fill);
    try {
      await request(app).get('/users').expect('X-Cache', 'MISS');
      for (let i = 0; i < 100 && cache.stats().sets < 1; i++) await new Promise((r) => setTimeout(r, 5));
      const fillsAfterMiss = fills.seen.filter((s) => s.phase === 'start').length;
      await request(app).get('/users').expect('X-Cache', 'HIT');
      expect(fillsAfterMiss).toBe(1);
      expect(fills.seen.filter((s) => s.phase === 'start')).toHaveLength(1);
      expect(fills.seen[0]?.ctx).toMatchObject({ key: expect.stringMatching(/^tr:api:users:/), endpoint: 'users' });
      expect(fills.seen.some((s) => s.phase === 'asyncEnd')).toBe(true);
      const lookupStarts = lookups.seen.filter((s) => s.phase === 'start');
      expect(lookupStarts.length).toBeGreaterThanOrEqual(2);
      expect(lookupStarts.every((s) => String(s.ctx.key).startsWith('tr:api:users:'))).toBe(true);
      const found = lookups.seen.filter((s) => s.phase === 'asyncEnd').map((s) => s.ctx.result !== undefined);
      expect(found[0]).toBe(false); // the miss
      expect(found[found.length - 1]).toBe(true); // the hit
    } finally {
      lookups.stop();
      fills.stop();
      await cache.close();
    }
  });
});

describe('traceLookup / traceFill', () => {
  it('trace on their channels with key and endpoint only when subscribed', async () => {
    expect(await traceLookup('k', 'users', async () => 1)).toBe(1);
    const lookups = record(CHANNELS.lookup);
    const fills = record(CHANNELS.fill);
    try {
      await traceLookup('k', 'users', async () => 'found');
      await expect(traceFill('k', 'users', async () => Promise.reject(new Error('origin down')))).rejects.toThrow('origin down');
    } finally {
      lookups.stop();
      fills.stop();
    }
    expect(lookups.seen.map((s) => s.phase)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(lookups.seen[0]?.ctx).toMatchObject({ key: 'k', endpoint: 'users' });
    expect(lookups.seen[3]?.ctx.result).toBe('found');
    expect(fills.seen.some((s) => s.phase === 'error' && (s.ctx.error as Error).message === 'origin down')).toBe(true);
  });
});
