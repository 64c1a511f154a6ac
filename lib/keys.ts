import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';

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

const SCOPE_ID_SPECIALS = /[%:]/g;

/**
 * Escapes an id for use inside a scope's keys and tags: `%` becomes `%25` and `:` becomes `%3A`,
 * nothing else changes. A scope's keys are `{scope}:{id}` and its sub-keys `{scope}:{id}:…`, so
 * an id `a:b` written as it is would be a sub-key of `a`; escaped, it is an id of its own, and
 * `invalidateScope('character', 'a:b')` reaches exactly its entries. Route answers are tagged,
 * `queryKey` builds keys and the invalidation helpers resolve ids all through this function;
 * an app that writes scope keys itself should use it too.
 *
 * @example
 * ```ts
 * escapeScopeId('a:b'); // 'a%3Ab'
 * escapeScopeId('char_123'); // 'char_123'
 * await cache.set(`character:${escapeScopeId(id)}`, value);
 * ```
 */
export function escapeScopeId(id: string): string {
  if (!id.includes(':') && !id.includes('%')) return id;
  return id.replace(SCOPE_ID_SPECIALS, (special) => (special === '%' ? '%25' : '%3A'));
}

/**
 * Builds a query-cache key `{type}:{id}`, the id escaped with {@link escapeScopeId} (which
 * leaves ids without `:` or `%` as they are).
 *
 * @example
 * ```ts
 * queryKey('character', 'char_123'); // 'character:char_123'
 * queryKey('character', 'a:b'); // 'character:a%3Ab'
 * ```
 */
export function queryKey(type: string, id: string | number): string {
  return `${type}:${typeof id === 'number' ? id : escapeScopeId(id)}`;
}

// Decoding must be injective: two raw values that decode to one string must also look the same
// to the handler. `URLSearchParams` maps every malformed escape (`%FF`, `%FE`) to U+FFFD while
// Express' parsers keep them raw, which would let `?q=%FF` be answered with the body of `?q=%FE`.
// So a component that does not decode cleanly is kept raw behind a NUL marker, and decoded text
// that itself starts with NUL gets one more, which keeps the two kinds from ever meeting.
const UNDECODABLE = '\u0000raw:';

function isHex(code: number): boolean {
  const lower = code | 0x20;
  return (code >= 0x30 && code <= 0x39) || (lower >= 0x61 && lower <= 0x66);
}

/** Whether every `%` in `text` starts a `%XX` escape (decodeURIComponent throws on any other). */
function wellFormedEscapes(text: string, first: number): boolean {
  // charCodeAt past the end is NaN, which isHex refuses: a trailing `%` or `%4` is malformed.
  for (let at = first; at !== -1; at = text.indexOf('%', at + 3)) {
    if (!isHex(text.charCodeAt(at + 1)) || !isHex(text.charCodeAt(at + 2))) return false;
  }
  return true;
}

function hexValue(code: number): number {
  // '0'-'9' -> 0-9, 'A'-'F' / 'a'-'f' -> 10-15; callers only pass characters isHex accepted.
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57;
}

/**
 * decodeURIComponent without exceptions. A thrown URIError costs about 15 µs, and a hostile query
 * can hold a thousand malformed components, so this decodes the escapes into bytes itself and
 * asks `buffer.isUtf8` whether they form text, in one linear pass. Characters outside escapes are
 * carried as their UTF-8 bytes, which gives the same answer decodeURIComponent gives for them.
 * (A lone surrogate would become U+FFFD here; an HTTP request line cannot carry one.)
 */
function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  const percent = spaced.indexOf('%');
  if (percent === -1) return spaced;
  if (!wellFormedEscapes(spaced, percent)) return UNDECODABLE + raw;
  const source = Buffer.from(spaced, 'utf8');
  const out = Buffer.allocUnsafe(source.length);
  let length = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i] as number;
    if (byte === 0x25) {
      out[length++] = (hexValue(source[i + 1] as number) << 4) | hexValue(source[i + 2] as number);
      i += 2;
    } else {
      out[length++] = byte;
    }
  }
  const bytes = out.subarray(0, length);
  if (!isUtf8(bytes)) return UNDECODABLE + raw;
  const decoded = bytes.toString('utf8');
  return decoded.startsWith('\u0000') ? `\u0000${decoded}` : decoded;
}

/** One query parameter, decoded, with its position (sorting by name keeps the positions' order). */
interface Param {
  name: string;
  value: string;
}

function byName(a: Param, b: Param): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The parameters of a raw query, decoded and sorted by name. `Array.prototype.sort` is stable,
 * so the values of a repeated name keep their order. A query with a bracket name keeps its
 * parameters in order instead: Express 4's `qs` merges `a`, `a[]`, `a[0]` and even `[a]` into
 * one value in the order they came (`?a=1&a[]=2` is `["1","2"]`, `?a[]=2&a=1` is `["2","1"]`),
 * so which names a parser merges cannot be told from the names alone, and sorting them would
 * let two different inputs share an entry.
 */
function sortedParams(rawQuery: string, ignore: ((name: string) => boolean) | undefined): Param[] {
  const params: Param[] = [];
  if (rawQuery === '') return params;
  let brackets = false;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const param = paramOf(part, ignore);
    if (param === undefined) continue;
    params.push(param);
    if (param.name.includes('[')) brackets = true;
  }
  return brackets ? params : params.sort(byName);
}

/**
 * Both of Express' query parsers stop after 1,000 `&`-separated parts (`qs`' `parameterLimit`,
 * `querystring`'s `maxKeys`), counting empty ones, so in a longer query the handler never sees
 * what comes after them: such a query is keyed on its exact spelling, never normalised.
 */
const PARSER_PART_LIMIT = 1_000;

/** Whether `rawQuery` has more `&`-separated parts (empty ones too) than the parsers read. */
function overPartLimit(rawQuery: string): boolean {
  let parts = 1;
  for (let at = rawQuery.indexOf('&'); at !== -1; at = rawQuery.indexOf('&', at + 1)) {
    if (++parts > PARSER_PART_LIMIT) return true;
  }
  return false;
}

/** One non-empty `name=value` part, decoded; undefined when `ignore` leaves its name out. */
function paramOf(part: string, ignore: ((name: string) => boolean) | undefined): Param | undefined {
  const eq = part.indexOf('=');
  const name = decodeComponent(eq === -1 ? part : part.slice(0, eq));
  if (ignore?.(name)) return undefined;
  return { name, value: eq === -1 ? '' : decodeComponent(part.slice(eq + 1)) };
}

/** A parameter as the canonical query writes it: each of name and value as its length, `:` and itself. */
function canonicalParam({ name, value }: Param): string {
  return `${name.length}:${name}${value.length}:${value}`;
}

/**
 * Parses a raw query string into sorted `[name, values[]]` pairs. Names are sorted so the order
 * of parameters does not matter; the values of a repeated name keep their order, because
 * `?tag=a&tag=b` may mean a different list than `?tag=b&tag=a`. Bracket names (`a[]`, `a[0]`)
 * are names of their own: `?a[]=1` and `?a=1` are two entries; and a query with any bracket
 * name is not sorted at all (`qs` merges such names in the order they came). Malformed escapes
 * are kept raw, so no two requests the handler tells apart share an entry.
 * @internal
 */
export function normaliseQuery(rawQuery: string, ignore?: (name: string) => boolean): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  for (const { name, value } of sortedParams(rawQuery, ignore)) {
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === name) last[1].push(value);
    else out.push([name, [value]]);
  }
  return out;
}

/**
 * The normalised query as one string, injective: each name and value is written as its length,
 * `:` and itself, so no choice of characters can make two queries read alike, and nothing needs
 * escaping. Same equivalence as {@link normaliseQuery}; linear apart from sorting the names.
 */
function canonicalQuery(rawQuery: string, ignore: ((name: string) => boolean) | undefined): string {
  if (rawQuery === '') return '';
  // `=` cannot start a canonical query (it starts with a digit), so the exact spelling never meets one.
  if (overPartLimit(rawQuery)) return `=${rawQuery}`;
  if (!rawQuery.includes('&')) {
    // One parameter (`?id=42`, the commonest query): nothing to split or sort.
    const param = paramOf(rawQuery, ignore);
    return param === undefined ? '' : canonicalParam(param);
  }
  let out = '';
  for (const param of sortedParams(rawQuery, ignore)) out += canonicalParam(param);
  return out;
}

/**
 * The number of parameters in a raw query string (non-empty `&`-separated parts), counted without
 * splitting or decoding, so a bound can be checked before any work proportional to the parameters.
 * @internal
 */
export function countQueryParams(rawQuery: string): number {
  let count = 0;
  let start = 0;
  for (;;) {
    const amp = rawQuery.indexOf('&', start);
    const end = amp === -1 ? rawQuery.length : amp;
    if (end > start) count++;
    if (amp === -1) return count;
    start = amp + 1;
  }
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
 * The scheme and host a response key is computed for. RFC 9111 §2 keys a cache on the target
 * URI, so `cacheResponse` passes what Express computes (`req.protocol`, and the host with its
 * port as `req.get('host')` has it, or the first `X-Forwarded-Host` under `trust proxy`);
 * `host: undefined` (the `keyByHost: false` option) shares one entry across hosts.
 */
export interface KeyTarget {
  /** `http` or `https`, as `req.protocol` reports it. */
  protocol?: string | undefined;
  /** The host and port as the request spelled them (`api.example.com:8443`); leave out to share entries across hosts. */
  host?: string | undefined;
}

/**
 * Builds an API response key `api:{endpoint}:{hash}`: the hash is the SHA-1 of one canonical,
 * length-prefixed (so injective) string of the scheme, host, path and normalised query. `ignore` leaves
 * matching query names out. Pass `target` as the request had it to find what `cacheResponse`
 * stored (it keys on `req.protocol` and the `Host` header, port included).
 *
 * @example
 * ```ts
 * apiKey('status', '/status', 'b=2&a=1') === apiKey('status', '/status', 'a=1&b=2'); // true
 * await cache.delete(apiKey('status', '/status', '', undefined, { protocol: 'https', host: 'api.example.com' }));
 * ```
 */
export function apiKey(endpoint: string, path: string, rawQuery: string, ignore?: (name: string) => boolean, target: KeyTarget = {}): string {
  const protocol = target.protocol ?? '';
  // `host` absent (shared across hosts) is written `-`, a present one `+{length}:{host}`.
  const host = target.host === undefined ? '-' : `+${target.host.length}:${target.host}`;
  const canonical = `${protocol.length}:${protocol}${host}${path.length}:${path}?${canonicalQuery(rawQuery, ignore)}`;
  // One-shot crypto.hash: no Hash object per key, which is most of a short key's cost.
  return `${API_KEY_PREFIX}${endpoint}:${hash('sha1', canonical, 'hex')}`;
}

/**
 * Bounds a key's length: a key over `maxLength` keeps its head (so `api:{endpoint}:*` patterns
 * over short endpoints still match) and ends in `#` and the SHA-1 of the whole key, so two long
 * keys never collapse into one.
 * @internal
 */
export function boundKey(key: string, maxLength: number): string {
  if (key.length <= maxLength) return key;
  return `${key.slice(0, maxLength - 41)}#${hash('sha1', key, 'hex')}`;
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
