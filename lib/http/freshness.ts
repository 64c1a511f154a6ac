import type { OutgoingHttpHeaders } from 'node:http';
import type { StoredHeaders } from '../serializer';
import { parseCacheControl } from './rules';

/** Header values as a captured response or a stored entry holds them. */
type Headers = OutgoingHttpHeaders | StoredHeaders;

/**
 * The largest delta-seconds a cache needs to tell apart (RFC 9111 §1.2.2): larger values mean
 * "this long", not an overflow.
 */
const MAX_DELTA_SECONDS = 2_147_483_648;

/** A delta-seconds value (RFC 9111 §1.2.2): digits only; anything else is invalid (`undefined`). */
function deltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DELTA_SECONDS);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const IMF_FIXDATE = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun), (\\d{2}) ${MONTH} (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) gmt$`, 'i');
const RFC850_DATE = new RegExp(`^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d{2})-${MONTH}-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) gmt$`, 'i');
const ASCTIME_DATE = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun) ${MONTH} ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`, 'i');

function utc(year: number, month: string, day: string, hour: string, minute: string, second: string): number {
  const at = Date.UTC(year, MONTHS.indexOf(month.toLowerCase()), Number(day), Number(hour), Number(minute), Number(second));
  return Number(hour) > 23 || Number(minute) > 59 || Number(second) > 60 ? Number.NaN : at;
}

/**
 * An HTTP-date in epoch ms, or NaN (RFC 9110 §5.6.7): the IMF-fixdate, and the obsolete RFC 850
 * and asctime forms a recipient must still accept; names are matched case-insensitively. Other
 * shapes (`UTC`, no comma, dashes in an IMF date, a one-digit hour) are invalid, which for
 * `Expires` means "already expired".
 *
 * @example
 * ```ts
 * parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'); // 784111777000
 * parseHttpDate('Sun, 06 Nov 1994 08:49:37 UTC'); // NaN
 * ```
 */
export function parseHttpDate(value: string): number {
  const text = value.trim();
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(Number(m[3]), m[2] as string, m[1] as string, m[4] as string, m[5] as string, m[6] as string);
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    // A two-digit year more than 50 years ahead is in the past century (§5.6.7).
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2] as string, m[1] as string, m[4] as string, m[5] as string, m[6] as string);
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return utc(Number(m[6]), m[1] as string, (m[2] as string).trim(), m[3] as string, m[4] as string, m[5] as string);
  return Number.NaN;
}

function first(value: Headers[string]): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : String(value[0]);
  return String(value);
}

/**
 * The headers as this cache reads them: the route's targeted field (RFC 9213;
 * `cacheControlField`, lower-case, `express-cache-control` by default), when present and
 * valid, replaces `Cache-Control` for every decision of the cache (storing, lifetime, serving
 * stale); `Cache-Control` then speaks to browsers only. `CDN-Cache-Control` is for the CDN in
 * front and is never read here.
 *
 * @example
 * ```ts
 * targeted({ 'cache-control': 'no-store', 'express-cache-control': 'max-age=10' }, 'express-cache-control'); // cache-control: 'max-age=10'
 * targeted({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' }, 'express-cache-control'); // unchanged
 * ```
 */
export function targeted<H extends Headers>(headers: H, field: string | undefined): H {
  if (field === undefined) return headers;
  const own = headers[field];
  if (own === undefined || !isTargetedField(Array.isArray(own) ? own.join(', ') : String(own))) return headers;
  return { ...headers, 'cache-control': own };
}

// RFC 9213 §2.1: a targeted field is a Structured Field Dictionary (RFC 8941 §3.2); one that
// does not parse is ignored as a whole. Values: integer, decimal, string, token, boolean, with
// parameters; the lifetimes (max-age, s-maxage, stale-*) must be integers.
const SF_KEY = '[a-z*][a-z0-9_.*-]*';
const SF_BARE = '(?:-?\\d{1,15}(?:\\.\\d{1,3})?|"(?:[^"\\\\]|\\\\["\\\\])*"|[A-Za-z*][A-Za-z0-9:/!#$%&\'*+.^_`|~-]*|\\?[01])';
const SF_PARAMS = `(?:;\\s*${SF_KEY}(?:=${SF_BARE})?)*`;
const SF_MEMBER = new RegExp(`^(${SF_KEY})(?:=(${SF_BARE}))?${SF_PARAMS}$`);
const INTEGER_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

function isTargetedField(value: string): boolean {
  for (const member of value.split(',')) {
    const match = SF_MEMBER.exec(member.trim());
    if (match === null) return false;
    const [, key = '', item] = match;
    if (INTEGER_DIRECTIVES.has(key) && item !== undefined && !/^\d+$/.test(item)) return false;
  }
  return true;
}

/** What a response says about its own freshness, read once when it is stored (RFC 9111 §4.2). */
export interface OriginFreshness {
  /**
   * The explicit freshness lifetime in seconds (§4.2.1): `s-maxage`, else `max-age`, else
   * `Expires` minus `Date`. A present but invalid value gives 0 (stale at once: §5.2.2.1,
   * §5.3); `undefined` when the response gives none.
   */
  lifetime: number | undefined;
  /**
   * The age the response already had when it arrived, in seconds: the larger of its `Age` field
   * and the time since its `Date` (§4.2.3's corrected initial age, with no transit delay).
   */
  age: number;
}

/**
 * Reads a response's explicit freshness lifetime and its age on arrival (RFC 9111 §4.2.1,
 * §4.2.3). `now` is when it arrived, in epoch ms.
 *
 * @example
 * ```ts
 * originFreshness({ 'cache-control': 'max-age=60', age: '10' }, Date.now()); // { lifetime: 60, age: 10 }
 * originFreshness({ expires: '0' }, Date.now()); // { lifetime: 0, age: 0 }: an invalid Expires is already expired
 * ```
 */
export function originFreshness(headers: Headers, now: number, field?: string): OriginFreshness {
  const date = parseHttpDate(first(headers.date) ?? '');
  // One Age line holding a list ("7200, 0") counts by its first member, like repeated lines.
  const ageField = first(headers.age)?.split(',')[0]?.trim();
  const age = Math.max(deltaSeconds(ageField) ?? 0, Number.isNaN(date) ? 0 : Math.floor((now - date) / 1000));
  return { lifetime: explicitLifetime(headers, Number.isNaN(date) ? now : date, field), age };
}

function explicitLifetime(headers: Headers, date: number, field: string | undefined): number | undefined {
  const directives = parseCacheControl(targeted(headers, field)['cache-control']);
  // A shared cache takes s-maxage over max-age (§5.2.2.10), both over Expires (§5.3).
  for (const name of ['s-maxage', 'max-age']) {
    if (directives.has(name)) return deltaSeconds(directives.get(name)) ?? 0;
  }
  const expires = first(headers.expires);
  if (expires === undefined) return undefined;
  const at = parseHttpDate(expires);
  // §5.3: an invalid date, `0` in particular, means "already expired".
  if (Number.isNaN(at)) return 0;
  return Math.max(0, Math.floor((at - date) / 1000));
}

/**
 * How many seconds a response stays fresh in this cache, or 0 when it may not be stored as
 * fresh. `routeTtl` is the route's `ttl` in seconds; `undefined` means "follow the origin only"
 * (`ttl: 'origin'`): a response without an explicit lifetime then gets 0.
 *
 * With a route TTL the shorter of it and what is left of the origin's lifetime wins, so a
 * handler's `max-age=0`, shorter `max-age` or past `Expires` is never outlived.
 *
 * @example
 * ```ts
 * storedLifetime({ lifetime: 60, age: 10 }, 300); // 50
 * storedLifetime({ lifetime: undefined, age: 0 }, 300); // 300
 * storedLifetime({ lifetime: undefined, age: 0 }, undefined); // 0
 * ```
 */
export function storedLifetime(origin: OriginFreshness, routeTtl: number | undefined): number {
  if (origin.lifetime === undefined) return routeTtl ?? 0;
  const left = Math.max(0, origin.lifetime - origin.age);
  return routeTtl === undefined ? left : Math.min(routeTtl, left);
}

/** How long, past its lifetime, a stored response may be served stale, in ms. */
export interface StaleWindows {
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
}

/**
 * The stale windows a stored response allows, within the route's own (`route`):
 * - `no-cache`, `must-revalidate`, `proxy-revalidate` and `s-maxage` forbid serving it stale
 *   (RFC 9111 §5.2.2.2, §5.2.2.4, §5.2.2.8, §5.2.2.10);
 * - `stale-while-revalidate=N` / `stale-if-error=N` (RFC 5861) shorten the route's window to N
 *   seconds; they never lengthen it.
 *
 * @example
 * ```ts
 * staleWindows({ 'cache-control': 'max-age=60, must-revalidate' }, route); // both 0
 * ```
 */
export function staleWindows(headers: Headers, route: StaleWindows, field?: string): StaleWindows {
  if (route.staleWhileRevalidateMs === 0 && route.staleIfErrorMs === 0) return route;
  const directives = parseCacheControl(targeted(headers, field)['cache-control']);
  if (directives.has('no-cache') || directives.has('must-revalidate') || directives.has('proxy-revalidate') || directives.has('s-maxage')) {
    return { staleWhileRevalidateMs: 0, staleIfErrorMs: 0 };
  }
  const bound = (name: string, routeMs: number): number => {
    if (!directives.has(name)) return routeMs;
    const seconds = deltaSeconds(directives.get(name));
    return seconds === undefined ? 0 : Math.min(routeMs, seconds * 1000);
  };
  return { staleWhileRevalidateMs: bound('stale-while-revalidate', route.staleWhileRevalidateMs), staleIfErrorMs: bound('stale-if-error', route.staleIfErrorMs) };
}

/** Whether a stored response carries a validator a conditional request can use (RFC 9110 §8.8). */
export function hasValidator(headers: Headers): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined;
}
