import { type Cache, Cacheable, InvalidOptionError, createCache } from '../../lib';
import { STORE_KINDS, closeStoreClients } from '../helpers/stores';

afterAll(closeStoreClients);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORE_KINDS)('@Cacheable refreshAhead on $name', (kind) => {
  let cache: Cache;
  beforeEach(() => {
    cache = createCache({ store: kind.make(), namespace: `deco-ahead-${Math.random().toString(36).slice(2)}` });
  });
  afterEach(() => cache.close());

  test('a call in the last part of the TTL returns the stored result and reruns the method once in the background', async () => {
    let runs = 0;
    const refreshed: string[] = [];
    cache.on('refresh', ({ trigger, outcome }) => refreshed.push(`${trigger} ${outcome}`));
    class Charts {
      @Cacheable({ key: 'charts:top', ttl: 1, refreshAhead: 0.5, cache })
      async top(): Promise<number> {
        return ++runs;
      }
    }
    const charts = new Charts();
    expect(await charts.top()).toBe(1);
    expect(await charts.top()).toBe(1);
    expect(refreshed).toEqual([]);
    await sleep(600);
    expect(await charts.top()).toBe(1);
    const deadline = Date.now() + 5_000;
    while (refreshed.length === 0 && Date.now() < deadline) await sleep(5);
    expect(refreshed).toEqual(['ahead stored']);
    expect(await charts.top()).toBe(2);
    expect(runs).toBe(2);
  });
});

test('@Cacheable refreshAhead outside [0, 1) throws InvalidOptionError naming it', () => {
  expect(() => Cacheable({ refreshAhead: 1.5 })).toThrow(InvalidOptionError);
  expect(() => Cacheable({ refreshAhead: 1.5 })).toThrow(/refreshAhead/);
});
