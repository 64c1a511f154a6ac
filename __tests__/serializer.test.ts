import { crc32 } from 'node:zlib';
import { CorruptEntryError, type ResponseEntry, decodeEntry, encodeEntry } from '../lib/serializer';

const times = { createdAt: 1_000, expiresAt: 2_000 };

/** A version-2 frame around any metadata text, with correct lengths and checksum. */
function frame(kind: number, meta: string, body = Buffer.alloc(0), version = 2): Buffer {
  const metaBytes = Buffer.from(meta);
  const out = Buffer.concat([Buffer.from([0xec, version, kind]), Buffer.alloc(12), metaBytes, body]);
  out.writeUInt32BE(metaBytes.length, 3);
  out.writeUInt32BE(body.length, 7);
  out.writeUInt32BE(crc32(out.subarray(15), crc32(out.subarray(0, 11))), 11);
  return out;
}

const response = (overrides: Partial<ResponseEntry> = {}): ResponseEntry => ({
  kind: 'response',
  status: 200,
  headers: { 'content-type': 'text/plain' },
  body: Buffer.from('hello world'),
  ...times,
  ...overrides,
});

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
    ['bad metadata', frame(1, '{{{')],
    ['unknown kind', frame(9, '{"c":1,"e":2}')],
    ['version 1', Buffer.from([0xec, 1, 1, 0, 0, 0, 13, ...Buffer.from('{"c":1,"e":2}')])],
  ])('corrupt bytes (%s) throw CorruptEntryError', (_name, bytes) => {
    expect(() => decodeEntry(bytes)).toThrow(CorruptEntryError);
  });

  test('a body cut short, grown or with one flipped bit is refused: lengths and CRC-32', () => {
    const bytes = encodeEntry(response());
    expect(decodeEntry(bytes).kind).toBe('response');
    expect(() => decodeEntry(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    expect(() => decodeEntry(Buffer.concat([bytes, Buffer.from('x')]))).toThrow(/trailing bytes/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(() => decodeEntry(flipped)).toThrow(/checksum/);
    const metaFlipped = Buffer.from(bytes);
    metaFlipped[20] = (metaFlipped[20] as number) ^ 0x20;
    expect(() => decodeEntry(metaFlipped)).toThrow(/checksum/);
  });

  test.each([
    ['status 99999', response({ status: 99_999 })],
    ['status 99', response({ status: 99 })],
    ['status 200.5', response({ status: 200.5 })],
    ['a header value with LF', response({ headers: { 'x-a': 'ok', 'x-bad': 'a\nb' } })],
    ['a header value with CR', response({ headers: { 'x-bad': 'a\rSet-Cookie: x=1' } })],
    ['a header value with NUL', response({ headers: { 'x-bad': 'a\u0000b' } })],
    ['a header value beyond latin-1', response({ headers: { 'x-bad': 'caf\u00e9 \u263a' } })],
    ['a list value with LF', response({ headers: { link: ['<a>', 'b\nc'] } })],
    ['a header name with a space', response({ headers: { 'x bad': '1' } })],
    ['a header name with a colon', response({ headers: { 'x:bad': '1' } })],
    ['an empty header name', response({ headers: { '': '1' } })],
    ['status 100 (never replayed)', response({ status: 100 })],
    ['status 204 (never replayed)', response({ status: 204 })],
    ['status 304 (never replayed)', response({ status: 304 })],
    ['transfer-encoding (never replayed)', response({ headers: { 'transfer-encoding': 'chunked' } })],
    ['set-cookie (never replayed)', response({ headers: { 'set-cookie': 'sid=1' } })],
  ])('a response entry with %s is refused (RFC 9110 §5, §15)', (_name, entry) => {
    expect(() => decodeEntry(encodeEntry(entry))).toThrow(CorruptEntryError);
  });

  test('header values keep tabs, spaces and obs-text; status 200 and 599 are fine', () => {
    const headers = { 'x-a': 'a\tb c', 'x-latin': 'caf\u00e9', link: ['<a>', '<b>'] };
    expect(decodeEntry(encodeEntry(response({ status: 200, headers })))).toMatchObject({ status: 200, headers });
    expect(decodeEntry(encodeEntry(response({ status: 599 })))).toMatchObject({ status: 599 });
  });
});
