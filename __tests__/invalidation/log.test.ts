import { InvalidationLog } from '../../lib/engine/invalidation-log';

describe('InvalidationLog', () => {
  test('reports only invalidations that began after the generation and match the entry', () => {
    const log = new InvalidationLog();
    log.record((key) => key === 'a');
    const generation = log.generation;
    expect(log.invalidatedSince(generation, 'a', undefined)).toBe(false); // the earlier one does not count
    log.record((_key, tags) => tags?.includes('t') === true);
    expect(log.invalidatedSince(generation, 'a', undefined)).toBe(false);
    expect(log.invalidatedSince(generation, 'b', ['t'])).toBe(true);
    expect(log.invalidatedSince(log.generation, 'b', ['t'])).toBe(false);
  });

  test('once a record is forgotten, older loads are refused rather than trusted', () => {
    const log = new InvalidationLog(3);
    const old = log.generation;
    for (let i = 0; i < 4; i++) log.record((key) => key === `k${i}`);
    expect(log.invalidatedSince(old, 'unrelated', undefined)).toBe(true);
    const recent = log.generation - 2;
    expect(log.invalidatedSince(recent, 'unrelated', undefined)).toBe(false);
    expect(log.invalidatedSince(recent, 'k3', undefined)).toBe(true);
  });
});
