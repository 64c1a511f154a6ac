import { bodyEtag, ifNoneMatchMatches, isNotModified } from '../../lib/http/conditional';
import { cacheControlTtl, notStorableReason, requestsRevalidation } from '../../lib/http/rules';
import { acceptedCodings, acceptsCoding, isVarySpec, parseVary, responseVary, varyDigest } from '../../lib/http/vary';
import { CorruptEntryError, decodeEntry, encodeEntry } from '../../lib/serializer';

const OK = new Set([200]);

describe('storability (RFC 9111 §3, §5.2.2)', () => {
  test.each([
    [{ 'cache-control': 'no-store' }, 'no-store'],
    [{ 'cache-control': 'Private' }, 'private'],
    [{ 'cache-control': 'public, no-cache' }, 'no-cache'],
    [{ vary: 'Accept, *' }, 'vary-star'],
    [{ 'set-cookie': ['a=1'] }, 'set-cookie'],
    [{ 'cache-control': 'public, max-age=60', vary: 'Accept-Language' }, undefined],
  ])('%j -> %s', (headers, reason) => {
    expect(notStorableReason(200, headers, OK)).toBe(reason);
  });
});

describe('Cache-Control', () => {
  test('s-maxage wins over max-age; junk values are ignored', () => {
    expect(cacheControlTtl('max-age=30, s-maxage=90')).toBe(90);
    expect(cacheControlTtl('max-age=30')).toBe(30);
    expect(cacheControlTtl('max-age="45"')).toBe(45);
    expect(cacheControlTtl('max-age=0')).toBe(0);
    expect(cacheControlTtl('max-age=-1')).toBeUndefined();
    expect(cacheControlTtl('s-maxage=abc, max-age=12')).toBe(12);
    expect(cacheControlTtl('public')).toBeUndefined();
    expect(cacheControlTtl(undefined)).toBeUndefined();
  });

  test('request revalidation: no-cache, max-age=0, or Pragma without Cache-Control', () => {
    expect(requestsRevalidation('no-cache', undefined)).toBe(true);
    expect(requestsRevalidation('max-age=0', undefined)).toBe(true);
    expect(requestsRevalidation('max-age=10', 'no-cache')).toBe(false);
    expect(requestsRevalidation(undefined, 'no-cache')).toBe(true);
    expect(requestsRevalidation(undefined, 'x-no-cache-please')).toBe(false);
    expect(requestsRevalidation(undefined, undefined)).toBe(false);
  });
});

describe('validators (RFC 9110 §8.8, §13)', () => {
  test('bodyEtag is strong, deterministic and content-addressed', () => {
    const a = bodyEtag(Buffer.from('same'));
    expect(a).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(bodyEtag(Buffer.from('same'))).toBe(a);
    expect(bodyEtag(Buffer.from('other'))).not.toBe(a);
  });

  test('If-None-Match uses the weak comparison', () => {
    expect(ifNoneMatchMatches('"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchMatches('"b", W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"b"', '"a"')).toBe(false);
    expect(ifNoneMatchMatches(' * ', '"a"')).toBe(true);
  });

  test('If-None-Match takes precedence over If-Modified-Since', () => {
    const stored = { etag: '"a"', 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' };
    expect(isNotModified({ 'if-modified-since': 'Fri, 02 Jan 2026 00:00:00 GMT' }, stored)).toBe(true);
    expect(isNotModified({ 'if-modified-since': 'Wed, 31 Dec 2025 00:00:00 GMT' }, stored)).toBe(false);
    expect(isNotModified({ 'if-none-match': '"b"', 'if-modified-since': 'Fri, 02 Jan 2026 00:00:00 GMT' }, stored)).toBe(false);
    expect(isNotModified({ 'if-modified-since': 'garbage' }, stored)).toBe(false);
    expect(isNotModified({ 'if-none-match': '"a"' }, {})).toBe(false);
  });
});

describe('Vary and content codings', () => {
  test('parseVary lower-cases and dedupes; responseVary adds Accept-Encoding for encoded bodies', () => {
    expect(parseVary('Accept-Language, accept-language ,X-Forwarded-Host')).toEqual(['accept-language', 'x-forwarded-host']);
    expect(responseVary({ vary: 'X-B, X-A' })).toEqual(['x-a', 'x-b']);
    expect(responseVary({ 'content-encoding': 'gzip' })).toEqual(['accept-encoding']);
    expect(responseVary({ 'content-encoding': 'identity' })).toEqual([]);
    expect(responseVary({ 'content-encoding': 'gzip', vary: 'Accept-Encoding' })).toEqual(['accept-encoding']);
  });

  test('acceptedCodings follows q-values and *; no header accepts nothing', () => {
    expect(acceptedCodings('gzip, deflate, br')).toEqual(['br', 'deflate', 'gzip']);
    expect(acceptedCodings('gzip;q=0, *')).toEqual(['br', 'deflate', 'zstd']);
    expect(acceptedCodings('GZIP;Q=0.5')).toEqual(['gzip']);
    expect(acceptedCodings('identity')).toEqual([]);
    expect(acceptedCodings(undefined)).toEqual([]);
    expect(acceptsCoding('gzip', 'gzip')).toBe(true);
    expect(acceptsCoding('br', 'gzip')).toBe(false);
  });

  test('varyDigest: equivalent Accept-Encoding lists share a variant; absent and empty differ', () => {
    const names = ['accept-encoding', 'accept-language'];
    expect(varyDigest(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'fr' })).toBe(
      varyDigest(names, { 'accept-encoding': 'br;q=0.9, gzip', 'accept-language': 'fr' }),
    );
    expect(varyDigest(names, { 'accept-language': 'fr' })).not.toBe(varyDigest(names, { 'accept-language': 'en' }));
    expect(varyDigest(['accept-language'], {})).not.toBe(varyDigest(['accept-language'], { 'accept-language': '' }));
    expect(varyDigest(['a', 'b'], { a: 'x', b: '' })).not.toBe(varyDigest(['a', 'b'], { a: '', b: 'x' }));
  });

  test('isVarySpec accepts only the record the middleware writes', () => {
    expect(isVarySpec({ vary: ['accept-language'] })).toBe(true);
    expect(isVarySpec({ vary: 'accept-language' })).toBe(false);
    expect(isVarySpec({ vary: [1] })).toBe(false);
    expect(isVarySpec('x')).toBe(false);
  });
});

describe('stored body coding flag', () => {
  const times = { createdAt: 1, expiresAt: 2 };
  test('round-trips, and is absent when not set', () => {
    const body = Buffer.from([1, 2, 3]);
    const flagged = decodeEntry(encodeEntry({ kind: 'response', status: 200, headers: {}, body, bodyEncoding: 'gzip', ...times }));
    expect(flagged.kind === 'response' && flagged.bodyEncoding).toBe('gzip');
    const plain = decodeEntry(encodeEntry({ kind: 'response', status: 200, headers: {}, body, ...times }));
    expect(plain).toEqual({ kind: 'response', status: 200, headers: {}, body, ...times });
    expect('bodyEncoding' in plain).toBe(false);
  });

  test('an unknown coding is a corrupt entry, never bytes sent as they are', () => {
    const bytes = encodeEntry({ kind: 'response', status: 200, headers: {}, body: Buffer.from('x'), bodyEncoding: 'gzip', ...times });
    const tampered = Buffer.from(bytes.toString('latin1').replace('"z":"gzip"', '"z":"zzzz"'), 'latin1');
    expect(() => decodeEntry(tampered)).toThrow(CorruptEntryError);
  });
});
