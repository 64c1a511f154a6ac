import type { Cache } from '../../lib';
import type { InvalidationMessage } from '../../lib/bus/message';
import type { TieredStore } from '../../lib/stores/tiered';

/** The L1 tier of a cache built with `l1`. */
export function tierOf(cache: Cache): TieredStore {
  return cache.store as TieredStore;
}

/**
 * Resolves with the next message `cache`'s bus hears that satisfies `accept` (every message by
 * default); rejects after `timeoutMs`. Subscribe before causing the message.
 */
export function nextMessage(cache: Cache, accept: (message: InvalidationMessage) => boolean = () => true, timeoutMs = 5_000): Promise<InvalidationMessage> {
  const bus = tierOf(cache).bus;
  if (bus === undefined) return Promise.reject(new Error('this cache has no bus'));
  const next = new Promise<InvalidationMessage>((resolve, reject) => {
    // Unref'd, and the rejection marked handled below: a test that fails before awaiting this
    // must not keep its worker alive, nor leave an unhandled rejection behind.
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no bus message within ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const off = bus.on('message', (message) => {
      if (!accept(message)) return;
      clearTimeout(timer);
      off();
      resolve(message);
    });
  });
  next.catch(() => undefined);
  return next;
}

/** Resolves on the next `event` of `cache`'s bus. */
export function nextBusEvent(cache: Cache, event: 'up' | 'down'): Promise<void> {
  const bus = tierOf(cache).bus;
  if (bus === undefined) return Promise.reject(new Error('this cache has no bus'));
  return new Promise((resolve) => {
    const off = bus.on(event, () => {
      off();
      resolve();
    });
  });
}
