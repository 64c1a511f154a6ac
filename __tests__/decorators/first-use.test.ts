// Decorator TTLs as a new user writes them: duration strings work and are checked when the class
// is defined; custom profiles are resolved at call time in the cache then in use. Compiled for
// both decorator protocols by the Jest projects.
import { Cacheable, InvalidOptionError, configureCache, createCache } from '../../lib';

describe('decorator TTLs', () => {
  test("@Cacheable({ ttl: '5m' }) stores for 300 seconds", async () => {
    const cache = createCache();
    const ttls: number[] = [];
    cache.on('set', ({ ttl }) => ttls.push(ttl));
    class Service {
      calls = 0;
      @Cacheable({ key: (id: string) => `character:${id}`, ttl: '5m', cache })
      async get(id: string): Promise<string> {
        this.calls += 1;
        return `c${id}`;
      }
    }
    const service = new Service();
    await expect(service.get('1')).resolves.toBe('c1');
    await expect(service.get('1')).resolves.toBe('c1');
    expect(service.calls).toBe(1);
    expect(ttls).toEqual([300]);
    await cache.close();
  });

  test('a bad duration throws when the class is defined, not at the first call', () => {
    let error: unknown;
    try {
      class Service {
        @Cacheable({ ttl: '5 parsecs' })
        async get(): Promise<number> {
          return 1;
        }
      }
      void Service;
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('ttl');
    expect((error as Error).message).toMatch(/duration string/);
  });

  test('a custom profile defined by configureCache after the class resolves at call time', async () => {
    class Service {
      @Cacheable({ key: 'nightly:report', ttl: 'nightly' })
      async report(): Promise<string> {
        return 'r';
      }
    }
    const cache = configureCache({ ttlProfiles: { nightly: '12h' } });
    const ttls: number[] = [];
    cache.on('set', ({ ttl }) => ttls.push(ttl));
    await expect(new Service().report()).resolves.toBe('r');
    expect(ttls).toEqual([43_200]);
    await cache.close();
  });

  test('a misspelled built-in profile given with its cache throws at definition with a suggestion', () => {
    const cache = createCache();
    expect(() => Cacheable({ ttl: 'charcter', cache })).toThrow(/did you mean "character"\?/);
    return cache.close();
  });
});
