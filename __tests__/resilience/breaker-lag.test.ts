import { RedisStore, createCache } from '../../lib';
import { CircuitBreaker } from '../../lib/resilience/breaker';
import { testRedisClient } from '../helpers/redis';

// Issue 25, row 9: on a healthy Redis, a CPU-saturated process sees `get` timeouts that are
// event-loop lag, not store failures; and a read success must reset the read failure count even
// after a failed write. Neither may open the breaker.

/** Holds the event loop, as a saturated CPU does: nothing runs, no socket is read. */
function holdLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe('the breaker on a healthy Redis', () => {
  test('timeouts caused by event-loop lag open nothing: hits come back once the loop runs', async () => {
    const client = testRedisClient();
    const store = new RedisStore({ client, operationTimeoutMs: 100 });
    const cache = createCache({ store, breaker: { failureThreshold: 5 } });
    const degraded: string[] = [];
    cache.on('degraded', ({ store: name }) => void degraded.push(name));
    const errors: string[] = [];
    cache.on('error', ({ error }) => void errors.push(error.name));
    try {
      await cache.set('k', 'v', { ttl: 60 });
      expect(await cache.get('k')).toBe('v');
      // Twenty reads in flight, then the loop is held for three command timeouts: every
      // command's timer fires before its (long arrived) answer is read.
      const reads = Array.from({ length: 20 }, () => cache.get('k'));
      holdLoop(300);
      const results = await Promise.all(reads);
      expect(results.filter((value) => value === undefined).length).toBeGreaterThanOrEqual(5);
      // Still reported: a timeout is a miss with an error event, it just says nothing about Redis.
      expect(errors.length).toBeGreaterThanOrEqual(5);
      expect(degraded).toEqual([]);
      // The store was never skipped: the next read goes to Redis and hits.
      expect(await cache.get('k')).toBe('v');
    } finally {
      await cache.close();
      await client.quit().catch(() => undefined);
    }
  });
});

describe('CircuitBreaker counts', () => {
  const settings = { failureThreshold: 5, coolDownMs: 500, probeIntervalMs: 50 };

  test('one failed write does not keep read successes from resetting the read count', () => {
    const breaker = new CircuitBreaker(settings, async () => undefined);
    try {
      breaker.failure('write');
      let opened = false;
      for (let i = 0; i < 20; i++) {
        opened ||= breaker.failure('read');
        breaker.success('read');
      }
      expect(opened).toBe(false);
      expect(breaker.isOpen).toBe(false);
    } finally {
      breaker.stop();
    }
  });

  test('writes that keep failing open it although reads succeed in between (Redis out of memory)', () => {
    const breaker = new CircuitBreaker(settings, async () => undefined);
    try {
      const opened: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        opened.push(breaker.failure('write'));
        breaker.success('read');
      }
      expect(opened).toEqual([false, false, false, false, true]);
    } finally {
      breaker.stop();
    }
  });
});
