/**
 * The pure parts of the middleware's stages: freshness (RFC 9111 §4.2), the one storability
 * rule, ranges (RFC 9110 §14), revalidation helpers (RFC 9111 §4.3) and write targets (§4.4).
 */
import { bodyEtag } from '../../lib/http/conditional';
import { originFreshness, parseHttpDate, staleWindows, storedLifetime, targeted } from '../../lib/http/freshness';
import { rangeAnswer } from '../../lib/http/range';
import { freshenedHeaders, validatorsOf } from '../../lib/http/revalidate';
import { ageSeconds } from '../../lib/http/rules';
import { storability } from '../../lib/http/storability';
import { isUnsafeMethod, pathTag } from '../../lib/http/unsafe';
import type { ResponseEntry } from '../../lib/serializer';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const httpDate = (ms: number): string => new Date(ms).toUTCString();

describe('freshness', () => {
  test.each([
    [{ 'cache-control': 'max-age=30, s-maxage=120' }, 120],
    [{ 'cache-control': 'max-age=30', expires: httpDate(NOW + 999_000) }, 30],
    [{ expires: httpDate(NOW + 50_000), date: httpDate(NOW) }, 50],
    [{ expires: httpDate(NOW - 50_000) }, 0],
    [{ expires: '0' }, 0],
    [{ 'cache-control': 'max-age=-1' }, 0],
    [{ 'cache-control': "max-age='3600'" }, 0],
    [{ 'cache-control': 'max-age="3600"' }, 3600],
    [{ 'cache-control': 's-maxage=x, max-age=60' }, 0],
    [{ 'cache-control': 'max-age=99999999999' }, 2_147_483_648],
    [{ 'cache-control': 'public' }, undefined],
    [{}, undefined],
  ])('lifetime of %j is %s', (headers, lifetime) => {
    expect(originFreshness(headers, NOW).lifetime).toBe(lifetime);
  });

  test('the age on arrival: Age (first value), or the time since Date when larger', () => {
    expect(originFreshness({ age: '30' }, NOW).age).toBe(30);
    expect(originFreshness({ age: '7200, 0' }, NOW).age).toBe(7200);
    expect(originFreshness({ age: ['10', '20'] }, NOW).age).toBe(10);
    expect(originFreshness({ age: '-5' }, NOW).age).toBe(0);
    expect(originFreshness({ age: '5', date: httpDate(NOW - 60_000) }, NOW).age).toBe(60);
  });

  test('the stored lifetime: shorter of route TTL and what the origin lifetime leaves', () => {
    expect(storedLifetime({ lifetime: 60, age: 10 }, 300)).toBe(50);
    expect(storedLifetime({ lifetime: 600, age: 0 }, 300)).toBe(300);
    expect(storedLifetime({ lifetime: undefined, age: 10 }, 300)).toBe(300);
    expect(storedLifetime({ lifetime: 60, age: 3600 }, 300)).toBe(0);
    expect(storedLifetime({ lifetime: 7200, age: 0 }, undefined)).toBe(7200);
  });

  test('HTTP-dates: the three forms, case-insensitive names; anything else is invalid', () => {
    const at = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(at);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(at);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(at);
    expect(parseHttpDate('SUN, 06 NOV 1994 08:49:37 gmt')).toBe(at);
    for (const bad of ['Sun, 06 Nov 1994 08:49:37 UTC', 'Sun 06 Nov 1994 08:49:37 GMT', 'Sun, 06-Nov-1994 08:49:37 GMT', 'Sun, 06 Nov 1994 8:49:37 GMT', '0', '']) {
      expect(parseHttpDate(bad)).toBeNaN();
    }
  });

  test('stale windows: the answer narrows the route’s, never widens them; some forbid them', () => {
    const route = { staleWhileRevalidateMs: 60_000, staleIfErrorMs: 600_000 };
    expect(staleWindows({ 'cache-control': 'max-age=1' }, route)).toEqual(route);
    expect(staleWindows({ 'cache-control': 'max-age=1, stale-while-revalidate=5, stale-if-error=9999' }, route)).toEqual({ staleWhileRevalidateMs: 5_000, staleIfErrorMs: 600_000 });
    for (const cc of ['must-revalidate', 'proxy-revalidate', 'no-cache', 's-maxage=5']) {
      expect(staleWindows({ 'cache-control': `max-age=1, ${cc}` }, route)).toEqual({ staleWhileRevalidateMs: 0, staleIfErrorMs: 0 });
    }
    const none = { staleWhileRevalidateMs: 0, staleIfErrorMs: 0 };
    expect(staleWindows({ 'cache-control': 'stale-if-error=60' }, none)).toBe(none);
  });

  test('the targeted field (cacheControlField) replaces Cache-Control for the cache; CDN-Cache-Control is never read', () => {
    const field = 'express-cache-control';
    expect(targeted({ 'cache-control': 'no-store', [field]: 'max-age=60' }, field)['cache-control']).toBe('max-age=60');
    expect(originFreshness({ 'cache-control': 'max-age=1', [field]: 'max-age=600' }, NOW, field).lifetime).toBe(600);
    // RFC 9213: CDN-Cache-Control speaks to the CDN in front, not to this cache.
    expect(targeted({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' }, field)['cache-control']).toBe('no-store');
    expect(originFreshness({ 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=600' }, NOW, field).lifetime).toBe(1);
    // Its stale rules count too, and Cache-Control's do not.
    const route = { staleWhileRevalidateMs: 60_000, staleIfErrorMs: 60_000 };
    expect(staleWindows({ 'cache-control': 'max-age=60', [field]: 'max-age=1, must-revalidate' }, route, field)).toEqual({ staleWhileRevalidateMs: 0, staleIfErrorMs: 0 });
    expect(staleWindows({ 'cache-control': 'must-revalidate', [field]: 'max-age=1' }, route, field)).toEqual(route);
    // Turned off (cacheControlField: false): Cache-Control only.
    expect(targeted({ 'cache-control': 'no-store', [field]: 'max-age=60' }, undefined)['cache-control']).toBe('no-store');
    // Not a Structured Field dictionary (RFC 9213 §2.1, RFC 8941): ignored as a whole.
    for (const invalid of ['max-age=10000, &&&&&', 'max-age="10000"', 'max-age =100', 'MaX-aGe=3600']) {
      expect(targeted({ 'cache-control': 'no-store', [field]: invalid }, field)['cache-control']).toBe('no-store');
    }
  });

  test('ageSeconds counts whole seconds since the entry was stored', () => {
    expect(ageSeconds(NOW, NOW + 5_999)).toBe(5);
    expect(ageSeconds(NOW, NOW - 1_000)).toBe(0);
  });
});

describe('the one storability rule', () => {
  const rule = { statuses: new Set([200]), routeTtl: 60, explicitOnly: false, cacheControlField: 'express-cache-control' };
  test.each([
    [200, {}, { storable: true, lifetime: 60, age: 0 }],
    [200, { 'cache-control': 'max-age=10' }, { storable: true, lifetime: 10, age: 0 }],
    [404, {}, { storable: false, reason: 'status' }],
    [200, { 'set-cookie': 'a=1' }, { storable: false, reason: 'set-cookie' }],
    [200, { 'cache-control': 'no-store' }, { storable: false, reason: 'no-store' }],
    [200, { 'express-cache-control': 'private', 'cache-control': 'max-age=60' }, { storable: false, reason: 'private' }],
    [200, { 'cdn-cache-control': 'private', 'cache-control': 'max-age=60' }, { storable: true, lifetime: 60, age: 0 }],
    [200, { expires: '0' }, { storable: false, reason: 'max-age-zero' }],
  ])('%s %j', (status, headers, verdict) => {
    expect(storability(status, headers, null, rule, NOW)).toEqual(verdict);
  });

  test('a dropped body is too large; origin-only routes need an explicit lifetime', () => {
    expect(storability(200, {}, undefined, rule, NOW)).toEqual({ storable: false, reason: 'too-large' });
    expect(storability(200, {}, null, { ...rule, routeTtl: undefined, explicitOnly: true }, NOW)).toEqual({ storable: false, reason: 'no-lifetime' });
    expect(storability(200, { 'cache-control': 'max-age=5' }, null, { ...rule, routeTtl: undefined, explicitOnly: true }, NOW)).toEqual({ storable: true, lifetime: 5, age: 0 });
  });
});

describe('ranges', () => {
  test.each([
    [{}, { kind: 'full' }],
    [{ range: 'bytes=0-4' }, { kind: 'partial', start: 0, end: 4 }],
    [{ range: 'bytes=5-' }, { kind: 'partial', start: 5, end: 9 }],
    [{ range: 'bytes=-3' }, { kind: 'partial', start: 7, end: 9 }],
    [{ range: 'bytes=-30' }, { kind: 'partial', start: 0, end: 9 }],
    [{ range: 'bytes=8-100' }, { kind: 'partial', start: 8, end: 9 }],
    [{ range: 'bytes=10-' }, { kind: 'unsatisfiable' }],
    [{ range: 'bytes=-0' }, { kind: 'unsatisfiable' }],
    [{ range: 'bytes=0-1,3-4' }, { kind: 'full' }],
    [{ range: 'items=0-1' }, { kind: 'full' }],
    [{ range: 'bytes=4-2' }, { kind: 'full' }],
    [{ range: 'bytes=0-1', 'if-range': '"a"' }, { kind: 'partial', start: 0, end: 1 }],
    [{ range: 'bytes=0-1', 'if-range': 'W/"a"' }, { kind: 'full' }],
    [{ range: 'bytes=0-1', 'if-range': '"b"' }, { kind: 'full' }],
    [{ range: 'bytes=0-1', 'if-range': 'Wed, 01 Jan 2020 00:00:00 GMT' }, { kind: 'partial', start: 0, end: 1 }],
    [{ range: 'bytes=0-1', 'if-range': 'Thu, 02 Jan 2020 00:00:00 GMT' }, { kind: 'full' }],
  ])('%j', (request, answer) => {
    expect(rangeAnswer(request, { etag: '"a"', 'last-modified': 'Wed, 01 Jan 2020 00:00:00 GMT' }, 10)).toEqual(answer);
  });
});

describe('revalidation helpers', () => {
  const entry: ResponseEntry = { kind: 'response', status: 200, headers: { etag: '"e"', 'last-modified': 'Wed, 01 Jan 2020 00:00:00 GMT', 'content-type': 'text/plain', 'x-a': '1' }, body: Buffer.from('b'), createdAt: 0, expiresAt: 0 };

  test('the validators of a stored 200; none for other statuses or without one', () => {
    expect(validatorsOf(entry)).toEqual({ 'if-none-match': '"e"', 'if-modified-since': 'Wed, 01 Jan 2020 00:00:00 GMT' });
    expect(validatorsOf({ ...entry, status: 404 })).toBeUndefined();
    expect(validatorsOf({ ...entry, headers: {} })).toBeUndefined();
    // An ETag the cache computed from the body is not the handler's: only Last-Modified is sent.
    expect(validatorsOf({ ...entry, headers: { ...entry.headers, etag: bodyEtag(entry.body) } })).toEqual({ 'if-modified-since': 'Wed, 01 Jan 2020 00:00:00 GMT' });
  });

  test('a 304 replaces stored fields except those describing the body', () => {
    expect(freshenedHeaders(entry.headers, { 'x-a': '2', 'content-type': 'text/html', 'content-length': 0, 'cache-control': 'max-age=9' })).toEqual({
      ...entry.headers,
      'x-a': '2',
      'cache-control': 'max-age=9',
    });
  });
});

describe('writes', () => {
  test('unsafe methods are every method but GET, HEAD, OPTIONS and TRACE', () => {
    expect(['POST', 'PUT', 'PATCH', 'DELETE', 'PURGE'].every(isUnsafeMethod)).toBe(true);
    expect(['GET', 'HEAD', 'OPTIONS', 'TRACE'].some(isUnsafeMethod)).toBe(false);
  });

  test('one tag per path, whatever the query', () => {
    expect(pathTag('/items?a=1')).toBe(pathTag('/items'));
    expect(pathTag('/items/1')).not.toBe(pathTag('/items'));
  });
});
