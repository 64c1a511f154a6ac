import { CorruptEntryError, decodeEntry, encodeEntry } from '../lib/serializer';

const times = { createdAt: 1_000, expiresAt: 2_000 };

describe('serializer', () => {
  test('values keep their types: Date, Buffer, BigInt, Map, Set, nested', () => {
    const value = {
      when: new Date('2026-01-02T03:04:05.678Z'),
      bytes: Buffer.from([0, 1, 255]),
      big: 12345678901234567890n,
      map: new Map<string, unknown>([['a', new Date(0)]]),
      set: new Set([1, 'two']),
      list: [{ deep: [new Date(5)] }],
      plain: { $cacheType: 'Date', v: 'not really a date' },
      nothing: null,
    };
    const entry = decodeEntry(encodeEntry({ kind: 'value', value, ...times }));
    expect(entry).toEqual({ kind: 'value', value, ...times });
    if (entry.kind !== 'value') throw new Error('kind');
    const out = entry.value as typeof value;
    expect(out.when).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(out.bytes)).toBe(true);
    expect(typeof out.big).toBe('bigint');
    expect(out.map.get('a')).toBeInstanceOf(Date);
    expect(out.plain).toEqual({ $cacheType: 'Date', v: 'not really a date' });
  });

  test('responses keep status, headers and exact body bytes', () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const entry = decodeEntry(encodeEntry({ kind: 'response', status: 203, headers: { 'content-type': 'image/png', vary: ['a', 'b'] }, body, ...times }));
    expect(entry.kind).toBe('response');
    if (entry.kind !== 'response') throw new Error('kind');
    expect(entry.status).toBe(203);
    expect(entry.headers).toEqual({ 'content-type': 'image/png', vary: ['a', 'b'] });
    expect(entry.body.equals(body)).toBe(true);
  });

  test.each([
    ['empty', Buffer.alloc(0)],
    ['foreign JSON', Buffer.from('{"a":1}')],
    ['truncated', encodeEntry({ kind: 'value', value: 'x', ...times }).subarray(0, 9)],
    ['bad metadata', Buffer.from([0xec, 1, 1, 0, 0, 0, 3, 0x7b, 0x7b, 0x7b])],
    ['unknown kind', Buffer.from([0xec, 1, 9, 0, 0, 0, 2, 0x7b, 0x7d])],
  ])('corrupt bytes (%s) throw CorruptEntryError', (_name, bytes) => {
    expect(() => decodeEntry(bytes)).toThrow(CorruptEntryError);
  });
});
