import { escapeLike, globToLike } from '../../lib/stores/sql-glob';

describe('globToLike (Redis glob to SQL LIKE ... ESCAPE \'\\\')', () => {
  test.each([
    ['character:*', 'character:%', 'character:', true],
    ['llm:a_b', 'llm:a\\_b', 'llm:a_b', true],
    ['rate:100%', 'rate:100\\%', 'rate:100%', true],
    ['path:a\\\\b', 'path:a\\\\b', 'path:a\\b', true],
    ['id:a\\*', 'id:a*', 'id:a*', true],
    ['id:a?', 'id:a_', 'id:a', true],
    ['id:a[bc]*', 'id:a_%', 'id:a', false],
    ['id:a[^b]', 'id:a_', 'id:a', false],
    ['id:[unclosed', 'id:[unclosed', 'id:[unclosed', true],
    ['*', '%', '', true],
  ])('%s → LIKE %s (prefix %s, exact %s)', (glob, like, prefix, exact) => {
    expect(globToLike(glob)).toMatchObject({ like, prefix, exact });
  });

  test('the matcher is the exact Redis meaning, classes included', () => {
    const { matcher } = globToLike('id:a[bc]');
    expect(['id:ab', 'id:ac', 'id:ad', 'id:abc'].filter((key) => matcher.test(key))).toEqual(['id:ab', 'id:ac']);
  });

  test('escapeLike escapes the escape character too', () => {
    expect(escapeLike('a\\%_b')).toBe('a\\\\\\%\\_b');
  });
});
