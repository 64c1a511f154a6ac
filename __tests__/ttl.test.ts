import { InvalidOptionError, TTL_PROFILES, createCache } from '../lib';

describe('TTL profiles', () => {
  test('the default table', () => {
    expect(TTL_PROFILES).toMatchObject({
      character: 300,
      content_metadata: 600,
      platform_status: 60,
      analytics: 900,
      system_status: 5,
      api_response: 60,
      embeddings: 86_400,
      user: 2_592_000,
      temp: 3_600,
    });
    expect(Object.isFrozen(TTL_PROFILES)).toBe(true);
  });

  test('a TTL is seconds or a profile; the default is api_response; profiles can be overridden and added', () => {
    const cache = createCache({ ttlProfiles: { character: 30, nightly: 43_200 } });
    expect(cache.defaultTtlSeconds).toBe(60);
    expect(cache.resolveTtl('character')).toBe(30);
    expect(cache.resolveTtl('nightly')).toBe(43_200);
    expect(cache.resolveTtl(2.5)).toBe(2.5);
    expect(createCache({ defaultTtl: 'analytics' }).defaultTtlSeconds).toBe(900);
  });

  test.each([
    [{ defaultTtl: 'nope' }, 'defaultTtl', /unknown TTL profile "nope"/],
    [{ defaultTtl: 0 }, 'defaultTtl', /positive/],
    [{ defaultTtl: -5 }, 'defaultTtl', /positive/],
    [{ defaultTtl: Number.NaN }, 'defaultTtl', /positive/],
    [{ ttlProfiles: { character: -1 } }, 'ttlProfiles.character', /positive/],
    [{ namespace: 42 as unknown as string }, 'namespace', /string/],
  ])('invalid %p throws InvalidOptionError naming the option', (options, option, message) => {
    let caught: unknown;
    try {
      createCache(options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).option).toBe(option);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('duration strings', () => {
  const cache = createCache({ ttlProfiles: { nightly: '12h', character: 120 } });
  afterAll(() => cache.close());

  test.each([
    ['5m', 300],
    ['1h', 3_600],
    ['30s', 30],
    ['2 days', 172_800],
    ['5 minutes', 300],
    ['1.5h', 5_400],
    ['500ms', 0.5],
    ['1 Hour', 3_600],
  ])('%s is %d seconds', (ttl, seconds) => {
    expect(cache.resolveTtl(ttl)).toBe(seconds);
  });

  test('profile values may be durations; defaultTtl may be one', () => {
    expect(cache.resolveTtl('nightly')).toBe(43_200);
    expect(cache.resolveTtl('character')).toBe(120);
    expect(createCache({ defaultTtl: '10 minutes' }).defaultTtlSeconds).toBe(600);
  });

  test.each([
    ['5 parsecs', /option "ttl": expected a positive number of seconds \(300\), a duration string \('30s', '5m', '1h', '2 days', '5 minutes'\) or a profile name, got "5 parsecs"/],
    ['300', /needs a unit: "300s"/],
    ['0s', /got "0s"/],
    ['-5m', /got "-5m"/],
  ])('%p throws naming the option and the accepted forms', (ttl, message) => {
    let error: unknown;
    try {
      cache.resolveTtl(ttl);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('ttl');
    expect((error as Error).message).toMatch(message);
  });

  test('a misspelled profile name gets a "did you mean"', () => {
    expect(() => cache.resolveTtl('charcter')).toThrow(/unknown TTL profile "charcter"; did you mean "character"\?/);
    expect(() => cache.resolveTtl('zzzzzzzz')).toThrow(/known profiles: character, content_metadata/);
    expect(() => createCache({ ttlProfiles: { nightly: 1 }, defaultTtl: 'nightley' })).toThrow(/did you mean "nightly"\?/);
  });

  test('profile names may not look like durations', () => {
    expect(() => createCache({ ttlProfiles: { '5m': 10 } })).toThrow(/option "ttlProfiles.5m": a profile name must not/);
    expect(() => createCache({ ttlProfiles: { nightly: '12 parsecs' as '12h' } })).toThrow(/option "ttlProfiles.nightly"/);
  });

  test('stale windows and limiter windows accept durations; bad ones throw naming the option', async () => {
    const { resolveFreshness } = await import('../lib/engine/options');
    const resolved = resolveFreshness({ staleWhileRevalidate: '1h', staleIfError: '1 day', limiter: { minIntervalMs: '2s', windowMs: '1h', maxPerWindow: 5 } });
    expect(resolved).toMatchObject({ staleWhileRevalidateMs: 3_600_000, staleIfErrorMs: 86_400_000, limiter: { minIntervalMs: 2_000, windowMs: 3_600_000 } });
    expect(resolveFreshness({ staleWhileRevalidate: 30 }).staleWhileRevalidateMs).toBe(30_000);
    expect(() => resolveFreshness({ staleIfError: '1 fortnight' as '1d' })).toThrow(/option "staleIfError": expected seconds >= 0/);
    expect(() => resolveFreshness({ limiter: { windowMs: '0s', maxPerWindow: 1 } })).toThrow(/option "limiter.windowMs": expected a positive integer of milliseconds/);
    expect(() => resolveFreshness({ limiter: { minIntervalMs: 1.5 } })).toThrow(/option "limiter.minIntervalMs"/);
  });
});
