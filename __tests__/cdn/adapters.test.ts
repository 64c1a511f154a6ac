/**
 * The Fastly and Cloudflare purge adapters, against loopback servers standing in for each API:
 * the requests as the stand-in sees them (method, URL, headers, body), and retries after a
 * failed purge through createCache's queue.
 */
import { type Cache, InvalidOptionError, PurgeError, cloudflarePurge, createCache, fastlyPurge } from '../../lib';
import { StandIn } from './stand-in';

let api: StandIn;
let cache: Cache | undefined;
beforeEach(async () => {
  api = await new StandIn().start();
});
afterEach(async () => {
  await cache?.close();
  cache = undefined;
  await api.stop();
});

describe('fastlyPurge', () => {
  const fastly = (extra: Partial<Parameters<typeof fastlyPurge>[0]> = {}) => fastlyPurge({ serviceId: 'SU1Z0isxPaozGVKXdv0eY', token: 'fastly-token', apiUrl: api.url, ...extra });

  test('purges the surrogate keys of an invalidation; soft ones with Fastly-Soft-Purge', async () => {
    cache = createCache({ purge: fastly() });
    await cache.invalidateScope('character', 'char_1');
    await cache.invalidateTags(['leaderboard', 'team:blue'], { soft: true });
    await cache.flushPurges();
    expect(api.seen).toHaveLength(2);
    const [hard, soft] = api.seen;
    expect(hard).toMatchObject({ method: 'POST', url: '/service/SU1Z0isxPaozGVKXdv0eY/purge', body: { surrogate_keys: ['character:char_1'] } });
    expect(hard?.headers).toMatchObject({ 'fastly-key': 'fastly-token', 'content-type': 'application/json', accept: 'application/json' });
    expect(hard?.headers['fastly-soft-purge']).toBeUndefined();
    expect(soft).toMatchObject({ method: 'POST', url: '/service/SU1Z0isxPaozGVKXdv0eY/purge', body: { surrogate_keys: ['leaderboard', 'team:blue'] } });
    expect(soft?.headers['fastly-soft-purge']).toBe('1');
  });

  test('batches of at most batchSize keys', async () => {
    cache = createCache({ purge: fastly({ batchSize: 2 }) });
    await cache.invalidateTags(['a', 'b', 'c']);
    await cache.flushPurges();
    expect(api.seen.map((seen) => seen.body)).toEqual([{ surrogate_keys: ['a', 'b'] }, { surrogate_keys: ['c'] }]);
  });

  test('keys, patterns and clear: purge_all with purgeEverything, nothing without', async () => {
    cache = createCache({ purge: fastly() });
    await cache.delete('character:1');
    await cache.invalidatePattern('character:*');
    await cache.clear();
    await cache.flushPurges();
    expect(api.seen).toEqual([]);
    await cache.close();
    cache = createCache({ purge: fastly({ purgeEverything: true }) });
    await cache.invalidatePattern('character:*');
    await cache.flushPurges();
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]).toMatchObject({ method: 'POST', url: '/service/SU1Z0isxPaozGVKXdv0eY/purge_all', body: undefined });
    expect(api.seen[0]?.headers['fastly-key']).toBe('fastly-token');
  });

  test('a failed purge (5xx) is retried until the API takes it; each failure is an error event', async () => {
    api.statuses.push(503, 500);
    cache = createCache({ purge: { hook: fastly(), retryDelayMs: 5 } });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    await cache.invalidateScope('character', 'char_1', { soft: true });
    await cache.flushPurges();
    expect(api.seen).toHaveLength(3);
    for (const seen of api.seen) expect(seen).toMatchObject({ url: '/service/SU1Z0isxPaozGVKXdv0eY/purge', body: { surrogate_keys: ['character:char_1'] }, headers: { 'fastly-soft-purge': '1' } });
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(PurgeError);
    expect(errors[0]?.message).toMatch(/answered 503/);
    // The token is never in an error message.
    expect(errors.map((error) => error.message).join(' ')).not.toContain('fastly-token');
  });

  test('invalid options name the option', () => {
    expect(() => fastlyPurge({ serviceId: '', token: 't' })).toThrow(/serviceId/);
    expect(() => fastlyPurge({ serviceId: 's', token: 'a\nb' })).toThrow(/token/);
    expect(() => fastlyPurge({ serviceId: 's', token: 't', apiUrl: 'ftp://x' })).toThrow(InvalidOptionError);
    expect(() => fastlyPurge({ serviceId: 's', token: 't', softPurge: true } as never)).toThrow(/softPurge/);
  });
});

describe('cloudflarePurge', () => {
  const cloudflare = (extra: Partial<Parameters<typeof cloudflarePurge>[0]> = {}) => cloudflarePurge({ zoneId: '023e105f4ecef8ad9ca31a8372d0c353', token: 'cf-token', apiUrl: api.url, ...extra });

  test('purges by tag, and by URL through urlsFor; a soft invalidation purges too', async () => {
    api.answers = [{ success: true, errors: [], messages: [], result: { id: 'purge-1' } }];
    cache = createCache({
      purge: cloudflare({ urlsFor: (request) => (request.scope === 'character' && request.id !== undefined ? [`https://www.example.com/characters/${request.id}`] : []) }),
    });
    await cache.invalidateScope('character', 'char_1', { soft: true });
    await cache.invalidateTags(['leaderboard']);
    await cache.flushPurges();
    expect(api.seen.map(({ method, url, body }) => ({ method, url, body }))).toEqual([
      { method: 'POST', url: '/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache', body: { tags: ['character:char_1'] } },
      { method: 'POST', url: '/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache', body: { files: ['https://www.example.com/characters/char_1'] } },
      { method: 'POST', url: '/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache', body: { tags: ['leaderboard'] } },
    ]);
    for (const seen of api.seen) expect(seen.headers).toMatchObject({ authorization: 'Bearer cf-token', 'content-type': 'application/json' });
  });

  test('batches of 30 by default', async () => {
    cache = createCache({ purge: cloudflare() });
    const tags = Array.from({ length: 31 }, (_, i) => `t${i}`);
    await cache.invalidateTags(tags);
    await cache.flushPurges();
    expect(api.seen.map((seen) => (seen.body as { tags: string[] }).tags.length)).toEqual([30, 1]);
  });

  test('clear purges everything with purgeEverything only', async () => {
    cache = createCache({ purge: cloudflare() });
    await cache.clear();
    await cache.flushPurges();
    expect(api.seen).toEqual([]);
    await cache.close();
    cache = createCache({ purge: cloudflare({ purgeEverything: true }) });
    await cache.clear();
    await cache.flushPurges();
    expect(api.seen.map(({ url, body }) => ({ url, body }))).toEqual([{ url: '/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache', body: { purge_everything: true } }]);
  });

  test('"success": false (with a 200) and a 429 are failures, retried until the API takes the purge', async () => {
    api.answers = [{ success: false, errors: [{ code: 1134, message: 'rate limited' }] }, { success: true }];
    api.statuses.push(200, 429);
    cache = createCache({ purge: { hook: cloudflare(), retryDelayMs: 5 } });
    const errors: Error[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    await cache.invalidateTags(['catalog']);
    await cache.flushPurges();
    expect(api.seen.map((seen) => seen.body)).toEqual([{ tags: ['catalog'] }, { tags: ['catalog'] }, { tags: ['catalog'] }]);
    expect(errors.map((error) => (error.cause as Error).message)).toEqual([expect.stringMatching(/refused the purge.*1134/), expect.stringMatching(/answered 429/)]);
  });

  test('an unreachable API fails the attempt (bounded), never the invalidation', async () => {
    await api.stop();
    cache = createCache({ purge: { hook: cloudflare({ timeoutMs: 1_000 }), attempts: 2, retryDelayMs: 1 } });
    const errors: PurgeError[] = [];
    cache.on('error', ({ error }) => errors.push(error as PurgeError));
    await expect(cache.invalidateScope('character', '1')).resolves.toBe(0);
    await cache.flushPurges();
    expect(errors.map((error) => error.willRetry)).toEqual([true, false]);
  });

  test('invalid options name the option', () => {
    expect(() => cloudflarePurge({ zoneId: 'z', token: '' })).toThrow(/token/);
    expect(() => cloudflarePurge({ zoneId: 'z', token: 't', urlsFor: 'x' as never })).toThrow(/urlsFor/);
    expect(() => cloudflarePurge({ zoneId: 'z', token: 't', batchSize: 0 })).toThrow(/batchSize/);
  });
});
