import { MemoryStore } from '../../lib';
import { ResilientStore, type ResilienceSettings } from '../../lib/resilience/resilient-store';

// In mirror mode the fallback takes every write, so that it can answer during an outage. A
// write the primary's guard refuses (an invalidation overtook its load) must not stay in the
// fallback: it would be served, old, as soon as the primary fails.

const SETTINGS: ResilienceSettings = {
  failureThreshold: 5,
  coolDownMs: 500,
  probeIntervalMs: 50,
  journalLimit: 100,
  fallbackMode: 'mirror',
  probeKey: '__probe__',
  namespace: '',
};
const silent = { error: () => undefined, degraded: () => undefined, recovered: () => undefined };

test('a guarded write the primary refuses does not stay in a mirror fallback', async () => {
  const primary = new MemoryStore();
  const fallback = new MemoryStore();
  const store = new ResilientStore(primary, fallback, SETTINGS, silent);
  await store.set('k', Buffer.from('before'), 60_000);
  await store.stampInvalidations?.(['k:k'], 2_000, 60_000);
  await store.delete('k');
  // A load that began before the invalidation writes back: refused.
  expect(await store.setUnlessInvalidated?.('k', Buffer.from('old'), 60_000, undefined, ['k:k'], 1_000)).toBe(false);
  expect(await primary.get('k')).toBeUndefined();
  expect(await fallback.get('k')).toBeUndefined();
  // A load that saw the invalidation is written to both.
  expect(await store.setUnlessInvalidated?.('k', Buffer.from('new'), 60_000, undefined, ['k:k'], 2_000)).toBe(true);
  expect((await fallback.get('k'))?.toString()).toBe('new');
  await store.close();
});
