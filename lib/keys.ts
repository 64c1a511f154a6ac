import { createHash } from 'node:crypto';
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

// Decoding must be injective: two raw values that decode to one string must also look the same
// to the handler. `URLSearchParams` maps every malformed escape (`%FF`, `%FE`) to U+FFFD while
// Express' parsers keep them raw, which would let `?q=%FF` be answered with the body of `?q=%FE`.
// So a component that does not decode cleanly is kept raw behind a NUL marker, and decoded text
// that itself starts with NUL gets one more, which keeps the two kinds from ever meeting.
const UNDECODABLE = '\u0000raw:';

function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  let decoded: string;
  try {
    decoded = decodeURIComponent(spaced);
  } catch {
    return UNDECODABLE + raw;
  }
  return decoded.startsWith('\u0000') ? `\u0000${decoded}` : decoded;
}

/**
 * Parses a raw query string into sorted `[name, values[]]` pairs. Names are sorted so the order
 * of parameters does not matter; the values of a repeated name keep their order, because
 * `?tag=a&tag=b` may mean a different list than `?tag=b&tag=a`. Bracket names (`a[]`, `a[0]`)
 * are names of their own: `?a[]=1` and `?a=1` are two entries. Malformed escapes are kept raw,
 * so no two requests the handler tells apart share an entry.
 * @internal
 */
export function normaliseQuery(rawQuery: string, ignore?: (name: string) => boolean): Array<[string, string[]]> {
  if (rawQuery === '') return [];
  const grouped = new Map<string, string[]>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(part.slice(eq + 1));
    if (ignore?.(name)) continue;
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  return [...grouped.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Turns `ignoreQuery` patterns into one predicate over parameter names: strings match whole
 * names with `*` as a wildcard (`'utm_*'`), RegExps are tested as they are.
 * @internal
 */
export function queryNameMatcher(patterns: ReadonlyArray<string | RegExp>): (name: string) => boolean {
  const exact = new Set<string>();
  const regexps: RegExp[] = [];
  for (const pattern of patterns) {
    if (pattern instanceof RegExp) regexps.push(new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')));
    else if (pattern.includes('*')) regexps.push(new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's'));
    else exact.add(pattern);
  }
  return (name) => exact.has(name) || regexps.some((re) => re.test(name));
}

/**
 * Builds an API response key `api:{endpoint}:{hash}`, where the hash is an `object-hash` of the
 * path and the normalised query. `ignore` leaves matching query names out.
 *
 * @example
 * ```ts
 * apiKey('status', '/status', 'b=2&a=1') === apiKey('status', '/status', 'a=1&b=2'); // true
 * ```
 */
export function apiKey(endpoint: string, path: string, rawQuery: string, ignore?: (name: string) => boolean): string {
  const hash = objectHash({ path, query: normaliseQuery(rawQuery, ignore) }, { algorithm: 'sha1', encoding: 'hex' });
  return `${API_KEY_PREFIX}${endpoint}:${hash}`;
}

/**
 * Bounds a key's length: a key over `maxLength` keeps its head (so `api:{endpoint}:*` patterns
 * over short endpoints still match) and ends in `#` and the SHA-1 of the whole key, so two long
 * keys never collapse into one.
 * @internal
 */
export function boundKey(key: string, maxLength: number): string {
  if (key.length <= maxLength) return key;
  return `${key.slice(0, maxLength - 41)}#${createHash('sha1').update(key).digest('hex')}`;
}

/** The family of API response keys, `api:{endpoint}:{hash}`. */
export const API_KEY_PREFIX = 'api:';

/**
 * The key patterns a whole scope reaches (given as an escaped glob): its query entries
 * `{scope}:*` and the responses of the endpoint named like it, `api:{scope}:*`. The key scheme
 * owns this, so the engine never spells out a key family itself.
 * @internal
 */
export function scopeKeyPatterns(scopeGlob: string): string[] {
  return [`${scopeGlob}:*`, `${API_KEY_PREFIX}${scopeGlob}:*`];
}
