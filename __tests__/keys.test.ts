import { apiKey, escapeGlob, queryKey } from '../lib';
import { globToRegExp, normaliseNamespace, normaliseQuery } from '../lib/keys';

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
});
