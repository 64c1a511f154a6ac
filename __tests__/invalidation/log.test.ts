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
    log.record((key) => key === 'k0');
    log.record((key) => key === 'k1');
    const recent = log.generation;
    log.record((key) => key === 'k2');
    log.record((key) => key === 'k3'); // k0 is forgotten
    expect(log.invalidatedSince(old, 'unrelated', undefined)).toBe(true);
    expect(log.invalidatedSince(recent, 'unrelated', undefined)).toBe(false);
    expect(log.invalidatedSince(recent, 'k1', undefined)).toBe(false);
    expect(log.invalidatedSince(recent, 'k3', undefined)).toBe(true);
  });

  test('generations are times that only grow: a record within the same millisecond still counts as later', () => {
    let clock = 1_000;
    const log = new InvalidationLog(10, () => clock);
    expect(log.generation).toBe(1_000);
    const before = log.generation;
    const at = log.record((key) => key === 'a');
    expect(at).toBeGreaterThan(before);
    // A whole millisecond later: marks and stamps keep whole milliseconds through Lua.
    expect(at).toBe(1_001);
    expect(log.invalidatedSince(before, 'a', undefined)).toBe(true);
    // A generation read after the record, still in the same millisecond, is not touched by it.
    expect(log.generation).toBe(at);
    expect(log.invalidatedSince(log.generation, 'a', undefined)).toBe(false);
    clock = 2_000;
    expect(log.generation).toBe(2_000);
    expect(log.record(() => true)).toBe(2_001);
  });
});
