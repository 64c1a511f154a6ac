import { TypedEmitter } from '../../lib/engine/events';
import { History } from '../../lib/dashboard/history';
import { HotKeys } from '../../lib/metrics/hot-keys';
import { StatsCollector } from '../../lib/metrics/stats';

describe('HotKeys', () => {
  it('ranks keys by hits (304s included) and stays bounded under a flood of one-off keys', () => {
    const events = new TypedEmitter();
    const hot = new HotKeys(100);
    hot.attach(events);
    for (let i = 0; i < 50; i++) events.emit('hit', { key: 'hot' });
    for (let i = 0; i < 20; i++) events.emit('not-modified', { key: 'warm' });
    for (let i = 0; i < 10_000; i++) events.emit('hit', { key: `once:${i}` });
    expect(hot.top(2)).toEqual([
      { key: 'hot', hits: 50 },
      { key: 'warm', hits: 20 },
    ]);
    expect(hot.top(1_000).length).toBeLessThanOrEqual(100);
    expect(hot.hitsOf('nobody')).toBe(0);
  });
});

describe('History', () => {
  it('keeps per-interval hit rates per endpoint, at most `size` points each', () => {
    const events = new TypedEmitter();
    const stats = new StatsCollector();
    stats.attach(events);
    const history = new History(() => stats.snapshot(), 60_000, 3);
    history.start();
    try {
      const sample = (history as unknown as { sample(): void }).sample.bind(history);
      events.emit('hit', { key: 'k', endpoint: 'a' });
      events.emit('miss', { key: 'k', endpoint: 'a' });
      sample();
      events.emit('hit', { key: 'k', endpoint: 'a' });
      sample();
      sample(); // an interval without traffic: no hit rate
      sample();
      const points = history.series().a ?? [];
      expect(points).toHaveLength(3);
      expect(points.map((p) => p.hitRate)).toEqual([1, null, null]);
      expect(points[0]).toMatchObject({ hits: 1, misses: 0 });
    } finally {
      history.stop();
    }
  });
});
