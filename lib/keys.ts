import objectHash from 'object-hash';

const GLOB_SPECIALS = /[*?[\]\\]/g;

/**
 * Escapes the Redis glob characters (`* ? [ ] \`) in `text`, so an id used inside a pattern
 * matches only itself: `escapeGlob('a*')` never matches `ab`.
 *
 * @example
 * ```ts
 * await cache.invalidatePattern(`character:${escapeGlob(id)}:*`);
 * ```
 */
export function escapeGlob(text: string): string {
  return text.replace(GLOB_SPECIALS, '\\$&');
}

/**
 * Turns a Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) into an anchored RegExp with the
 * same meaning, so stores without native globbing match exactly what Redis would.
 * @internal
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '\\' && i + 1 < glob.length) {
      out += escapeRegExp(glob[++i] as string);
    } else if (ch === '*') {
      out += '.*';
    } else if (ch === '?') {
      out += '.';
    } else if (ch === '[') {
      const parsed = parseClass(glob, i);
      if (parsed === undefined) {
        out += '\\[';
      } else {
        out += parsed.source;
        i = parsed.end;
      }
    } else {
      out += escapeRegExp(ch);
    }
  }
  return new RegExp(`^${out}$`, 's');
}

/** Parses a `[...]` class starting at `start`; undefined when it is never closed. */
function parseClass(glob: string, start: number): { source: string; end: number } | undefined {
  let j = start + 1;
  let source = '[';
  if (glob[j] === '^') {
    source += '^';
    j++;
  }
  for (; j < glob.length; j++) {
    let c = glob[j] as string;
    if (c === ']') return { source: `${source}]`, end: j };
    if (c === '\\' && j + 1 < glob.length) c = glob[++j] as string;
    else if (c === '-') {
      source += '-';
      continue;
    }
    source += c.replace(/[\]\\^-]/g, '\\$&');
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * Normalises a namespace to end with exactly one `:` (`'myapp'` and `'myapp:'` are the same);
 * the empty namespace stays empty.
 * @internal
 */
export function normaliseNamespace(namespace: string | undefined): string {
  if (!namespace) return '';
  return namespace.endsWith(':') ? namespace : `${namespace}:`;
}

/**
 * Builds a query-cache key `{type}:{id}`.
 *
 * @example
 * ```ts
 * queryKey('character', 'char_123'); // 'character:char_123'
 * ```
 */
export function queryKey(type: string, id: string | number): string {
  return `${type}:${id}`;
}

/**
 * Parses a raw query string into sorted `[name, values[]]` pairs. Names are sorted so the order
 * of parameters does not matter; the values of a repeated name keep their order, because
 * `?tag=a&tag=b` may mean a different list than `?tag=b&tag=a`.
 * @internal
 */
export function normaliseQuery(rawQuery: string, ignore?: (name: string) => boolean): Array<[string, string[]]> {
  if (rawQuery === '') return [];
  const grouped = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (ignore?.(name)) continue;
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  return [...grouped.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Builds an API response key `api:{endpoint}:{hash}`, where the hash is an `object-hash` of the
 * path and the normalised query.
 *
 * @example
 * ```ts
 * apiKey('status', '/status', 'b=2&a=1') === apiKey('status', '/status', 'a=1&b=2'); // true
 * ```
 */
export function apiKey(endpoint: string, path: string, rawQuery: string): string {
  const hash = objectHash({ path, query: normaliseQuery(rawQuery) }, { algorithm: 'sha1', encoding: 'hex' });
  return `api:${endpoint}:${hash}`;
}
