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
