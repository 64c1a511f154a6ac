import { apiKey, escapeGlob, queryKey } from '../lib';
import { boundKey, countQueryParams, globToRegExp, normaliseNamespace, normaliseQuery, queryNameMatcher } from '../lib/keys';
import { requestKey } from '../lib/http/request-key';

describe('keys', () => {
  test('a one-parameter query is keyed as the general path keys it (its fast path changes nothing)', () => {
    // A trailing '&' sends the same query through the split-and-sort path.
    for (const query of ['id=42', 'id', 'id=', 'n%C3%A4me=a+b', 'bad=%zz', '%00x=1']) {
      expect(apiKey('item', '/item', query)).toBe(apiKey('item', '/item', `${query}&`));
    }
    const ignore = queryNameMatcher(['utm_*']);
    expect(apiKey('item', '/item', 'utm_source=x', ignore)).toBe(apiKey('item', '/item', ''));
    expect(apiKey('item', '/item', 'utm_source=x', ignore)).toBe(apiKey('item', '/item', 'utm_source=x&', ignore));
  });

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
    // A query with a bracket name keeps its order: qs merges `a` and `a[]` in the order they came.
    expect(normaliseQuery('a[]=1&a=2&a[]=3')).toEqual([
      ['a[]', ['1']],
      ['a', ['2']],
      ['a[]', ['3']],
    ]);
    expect(apiKey('s', '/s', 'a=1&a[]=2')).not.toBe(apiKey('s', '/s', 'a[]=2&a=1'));
    expect(apiKey('s', '/s', 'b=1&a=2')).toBe(apiKey('s', '/s', 'a=2&b=1'));
    // Past the parsers' 1,000 parts the handler sees less than the query says: keyed as spelled.
    expect(apiKey('s', '/s', `${'&'.repeat(1_000)}a=1`)).not.toBe(apiKey('s', '/s', 'a=1'));
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

  test('scheme and host are in the key; without a host, one key for every host', () => {
    const at = (protocol: string, host?: string) => apiKey('s', '/s', 'a=1', undefined, { protocol, host });
    expect(at('http', 'a.example')).not.toBe(at('http', 'evil.example'));
    expect(at('http', 'a.example')).not.toBe(at('https', 'a.example'));
    expect(at('http', 'a.example')).toBe(apiKey('s', '/s', 'a=1', undefined, { protocol: 'http', host: 'a.example' }));
    expect(at('http')).not.toBe(at('http', ''));
    // Length-prefixed parts: moving characters between host, path and query never meets another key.
    expect(apiKey('s', '/a', 'b=1', undefined, { protocol: 'http', host: 'h' })).not.toBe(apiKey('s', 'a', 'b=1', undefined, { protocol: 'http', host: 'h/' }));
    expect(apiKey('s', '/p', 'a=1b=2')).not.toBe(apiKey('s', '/p', 'a=1&b=2'));
    expect(apiKey('s', '/p', '1:a=1')).not.toBe(apiKey('s', '/p', 'a=11'));
  });

  test('malformed escapes everywhere: decoded without throwing, each kept apart, valid ones decoded', () => {
    const hostile = Array.from({ length: 1_450 }, (_, i) => `%zz${i}=%zz`).join('&');
    const parsed = normaliseQuery(hostile);
    expect(parsed).toHaveLength(1_450);
    expect(parsed[0]?.[0].startsWith('\u0000raw:%zz')).toBe(true);
    expect(apiKey('s', '/s', hostile)).not.toBe(apiKey('s', '/s', hostile.replace('%zz7=', '%zz8=')));
    // Exactly what decodeURIComponent accepts is decoded; the rest stays raw.
    for (const text of ['%C3%BC', '%F0%9F%99%82', '\u00ff%41', '%e6%97%a5', '%00x']) {
      const decoded = decodeURIComponent(text);
      expect(normaliseQuery(`q=${text}`)[0]?.[1][0]).toBe(decoded.startsWith('\u0000') ? `\u0000${decoded}` : decoded);
    }
    for (const text of ['%FF', '%C0%80', '%ED%A0%80', '%E0%A4%A', '%', '%4', '\u00c3%A9']) {
      expect(normaliseQuery(`q=${text}`)[0]?.[1][0]).toBe(`\u0000raw:${text}`);
    }
  });

  test('countQueryParams counts non-empty parts without splitting', () => {
    expect(countQueryParams('')).toBe(0);
    expect(countQueryParams('a')).toBe(1);
    expect(countQueryParams('a=1&b&&c=&')).toBe(3);
    expect(countQueryParams('&&&')).toBe(0);
  });

  test('requestKey: bounds are checked before keying, and say which one was crossed', () => {
    const opts = { ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 20, maxQueryParams: 3, keyByHost: true };
    const input = { endpoint: 'e', protocol: 'http', host: 'h', path: '/p' };
    expect(requestKey({ ...input, rawQuery: 'a=1&b=2&c=3' }, opts)).toEqual({ key: apiKey('e', '/p', 'a=1&b=2&c=3', undefined, { protocol: 'http', host: 'h' }) });
    expect(requestKey({ ...input, rawQuery: 'a=1&b=2&c=3&d' }, opts)).toEqual({ bypass: 'too-many-params' });
    expect(requestKey({ ...input, rawQuery: 'a=1&b=2&c=3&&&&' }, opts)).toHaveProperty('key');
    expect(requestKey({ ...input, rawQuery: 'q='.padEnd(21, 'x') }, opts)).toEqual({ bypass: 'query-too-long' });
    expect(requestKey({ ...input, rawQuery: 'q='.padEnd(20, 'x') }, opts)).toHaveProperty('key');
    const shared = { ...opts, keyByHost: false };
    expect(requestKey({ ...input, rawQuery: '' }, shared)).toEqual(requestKey({ ...input, host: 'other', rawQuery: '' }, shared));
    expect(requestKey({ ...input, rawQuery: '' }, opts)).not.toEqual(requestKey({ ...input, host: 'other', rawQuery: '' }, opts));
  });
});
