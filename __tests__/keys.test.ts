import { apiKey, escapeGlob, queryKey } from '../lib';
import { boundKey, globToRegExp, normaliseNamespace, normaliseQuery, queryNameMatcher } from '../lib/keys';

describe('keys', () => {
  test('api keys have the form api:{endpoint}:{sha1}', () => {
    expect(apiKey('status', '/status', '')).toMatch(/^api:status:[0-9a-f]{40}$/);
  });

  test('parameter order does not create a second entry; values and paths do', () => {
    expect(apiKey('s', '/s', 'a=1&b=2')).toBe(apiKey('s', '/s', 'b=2&a=1'));
    expect(apiKey('s', '/s', 'a=1&b=2&a=3')).toBe(apiKey('s', '/s', 'a=1&a=3&b=2'));
    expect(apiKey('s', '/s', 'a=1')).not.toBe(apiKey('s', '/s', 'a=2'));
    expect(apiKey('s', '/s', 'a=1&a=2')).not.toBe(apiKey('s', '/s', 'a=1'));
    expect(apiKey('s', '/s', '')).not.toBe(apiKey('s', '/t', ''));
    expect(apiKey('s', '/s', 'a=%20')).toBe(apiKey('s', '/s', 'a=+'));
  });

  test('normaliseQuery groups repeated names in order and sorts names', () => {
    expect(normaliseQuery('z=1&a=2&z=0')).toEqual([
      ['a', ['2']],
      ['z', ['1', '0']],
    ]);
    expect(normaliseQuery('')).toEqual([]);
  });

  test('queryKey and namespaces', () => {
    expect(queryKey('character', 'char_123')).toBe('character:char_123');
    expect(normaliseNamespace('myapp')).toBe('myapp:');
    expect(normaliseNamespace('myapp:')).toBe('myapp:');
    expect(normaliseNamespace(undefined)).toBe('');
  });

  test('escapeGlob makes an id match only itself', () => {
    const pattern = `character:${escapeGlob('a*[x]?\\')}`;
    const re = globToRegExp(pattern);
    expect(re.test('character:a*[x]?\\')).toBe(true);
    expect(re.test('character:ab[x]?\\')).toBe(false);
    expect(globToRegExp(`character:${escapeGlob('a*')}`).test('character:ab')).toBe(false);
  });

  test('globToRegExp follows Redis glob rules', () => {
    expect(globToRegExp('a*').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('ac')).toBe(false);
    expect(globToRegExp('a[bc]d').test('acd')).toBe(true);
    expect(globToRegExp('a[^b]d').test('abd')).toBe(false);
    expect(globToRegExp('a[a-c]d').test('abd')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a[b').test('a[b')).toBe(true);
    expect(globToRegExp('*').test('line\nbreak')).toBe(true);
  });

  test('malformed escapes stay apart: ?q=%FF and ?q=%FE are two entries, as Express 4 sees them', () => {
    expect(apiKey('s', '/s', 'q=%FF')).not.toBe(apiKey('s', '/s', 'q=%FE'));
    expect(apiKey('s', '/s', '%FF=1')).not.toBe(apiKey('s', '/s', '%FE=1'));
    // Decoded text that looks like the raw marker cannot meet a raw value either.
    expect(apiKey('s', '/s', 'q=%00raw:%25FF')).not.toBe(apiKey('s', '/s', 'q=%FF'));
    expect(apiKey('s', '/s', 'q=%41')).toBe(apiKey('s', '/s', 'q=A'));
    expect(normaliseQuery('a[]=1&a=2&a[]=3')).toEqual([
      ['a', ['2']],
      ['a[]', ['1', '3']],
    ]);
    expect(normaliseQuery('&&a&b=')).toEqual([
      ['a', ['']],
      ['b', ['']],
    ]);
  });

  test('ignored query names leave the key unchanged', () => {
    const ignore = queryNameMatcher(['utm_*', /^fbclid$/i, 'ref']);
    expect(ignore('utm_source')).toBe(true);
    expect(ignore('FBCLID')).toBe(true);
    expect(ignore('ref')).toBe(true);
    expect(ignore('reference')).toBe(false);
    expect(ignore('xutm_a')).toBe(false);
    expect(apiKey('s', '/s', 'q=1&utm_source=x&ref=y', ignore)).toBe(apiKey('s', '/s', 'q=1', ignore));
    expect(apiKey('s', '/s', 'q=1&reference=y', ignore)).not.toBe(apiKey('s', '/s', 'q=1', ignore));
  });

  test('boundKey keeps short keys and hashes the tail of long ones', () => {
    expect(boundKey('api:s:abc', 64)).toBe('api:s:abc');
    const long = `api:${'e'.repeat(1_000)}:x`;
    const bounded = boundKey(long, 100);
    expect(bounded).toHaveLength(100);
    expect(bounded.startsWith('api:eee')).toBe(true);
    expect(boundKey(`${long}y`, 100)).not.toBe(bounded);
  });
});
