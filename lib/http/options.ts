import type { NextFunction, Request, Response } from 'express';
import type { Cache } from '../engine/cache';
import { type FreshnessOptions, type ResolvedFreshness, enabledFromEnvironment, resolveFreshness } from '../engine/options';
import { InvalidOptionError } from '../errors';
import type { InvalidationTargets } from '../invalidation';
import { queryNameMatcher } from '../keys';
import { isReplayableStatus } from '../serializer';
import { type Ttl, type TtlProfiles, resolveTtl } from '../ttl';
import { optionNames, optionalBoolean, optionalString, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';
import { type RouteScoping, type ScopeParam, namesScope } from './scope-tags';
import { ROUTE_REFRESH_OPTION_NAMES, type ResolvedRouteRefresh, type RouteRefreshOptions, resolveRouteRefresh } from './refresh-options';


/**
 * What, besides the URL, tells requests apart: request header names (case-insensitive), or a
 * function of the request returning a string (e.g. the user id).
 *
 * @example
 * ```ts
 * cacheResponse({ varyBy: ['accept-language'] });
 * cacheResponse({ varyBy: (req) => String(req.user?.id) });
 * ```
 */
export type VaryBy = readonly string[] | ((req: Request) => string);

/**
 * What `cacheResponse()` and `invalidateAfter()` return: an Express middleware generic in the
 * route's parameters, so mounting it does not change what the next handler sees. (A plain
 * `RequestHandler` would make TypeScript infer Express' loose `ParamsDictionary` for the whole
 * route, and `req.params.id` after it would be `string | string[] | undefined` under
 * `noUncheckedIndexedAccess`.) Middleware never reads route parameters itself.
 *
 * @example
 * ```ts
 * app.get('/characters/:id', cacheResponse(), (req, res) => {
 *   const id: string = req.params.id; // still `string`
 *   res.json({ id });
 * });
 * ```
 */
export type RouteMiddleware = <P>(req: Request<P>, res: Response, next: NextFunction) => void;

/**
 * Gives a middleware written against `Request` the {@link RouteMiddleware} type. Sound because
 * the middleware never reads `req.params`: it only passes `req` on to user callbacks typed
 * with `Request`.
 * @internal
 */
export function asRouteMiddleware(middleware: (req: Request, res: Response, next: NextFunction) => unknown): RouteMiddleware {
  return middleware as unknown as RouteMiddleware;
}

/** A query parameter name to leave out of the key: an exact name, a glob with `*` (`'utm_*'`), or a RegExp. *
 * @example
 * ```ts
 * cacheResponse({ ignoreQuery: ['utm_*', 'fbclid', /^_ga/] });
 * ```
 */
export type QueryNamePattern = string | RegExp;

/** Options of {@link cacheResponse}. */
export interface CacheResponseOptions extends FreshnessOptions, RouteRefreshOptions {
  /**
   * How long an answer stays fresh: seconds, a duration string (`'5m'`, `'1 hour'`) or a
   * profile name. An answer's own lifetime (`s-maxage`, `max-age`, `Expires`, less its `Age`;
   * RFC 9111 §4.2) shortens it, never lengthens it. `'origin'` follows the answer's own
   * lifetime only: answers without one are not stored (the same as `ttlFromCacheControl: true`).
   * @default the cache's `defaultTtl`
   */
  ttl?: Ttl | 'origin';
  /**
   * The endpoint name in the key `api:{endpoint}:{hash}`; what `invalidateApiCache(endpoint)` clears.
   * @default the route's path (`req.baseUrl + req.route.path`), else the request path
   */
  keyPrefix?: string;
  /**
   * The cache to use.
   * @default the default cache at request time ({@link getDefaultCache})
   */
  cache?: Cache;
  /**
   * Response statuses that may be stored.
   * @default [200]
   */
  statuses?: readonly number[];
  /**
   * Serve and store requests that carry `Authorization` or `Cookie` from the shared entry. Only
   * safe when the answer is the same for every caller; otherwise such requests bypass the cache
   * (`X-Cache: BYPASS`), unless `varyBy` covers them.
   * @default false
   */
  shareAuthenticated?: boolean;
  /**
   * Answers larger than this many bytes pass through uncached.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Tags for the stored answer, computed per request, so `invalidateTags` (or a scope) can
   * clear it; e.g. `(req) => ['character:' + req.params.id]`. A throwing function, or one
   * returning anything but an array of non-empty strings, leaves that answer uncached.
   * @default none
   */
  tags?: (req: Request) => readonly string[];
  /**
   * The scope the route's answers belong to: each stored answer is tagged `{scope}:{id}`, the id
   * coming from the route parameters (see `scopeParam`), so `invalidateScope(scope, id)` and
   * helpers like `invalidateCharacterCache(id)` clear it, with every query string and Vary
   * variant. `false` turns scoping off.
   * @default `keyPrefix` when it is a plain name (letters, digits, `_`, `-`), else none
   */
  scope?: string | false;
  /**
   * Which route parameter holds the scoped id: a parameter name, or a function of `req.params`
   * returning one id or several. Answers of routes without such a parameter are not scoped.
   * @default the route's first parameter (`:id` in `/characters/:id`)
   */
  scopeParam?: ScopeParam;
  /**
   * Adds request values to the key. Header names put those headers' values in the key (naming
   * `authorization` or `cookie` lets such requests use the cache, one entry per credential); a
   * function's result is put in the key and is taken to cover `Authorization` and `Cookie`
   * (it must return a different string for every user whose answer differs).
   * @default undefined (the key is the URL, plus the headers the response names in `Vary`)
   */
  varyBy?: VaryBy;
  /**
   * Query parameters left out of the key, so `?utm_source=x` does not create a new entry.
   * Strings match whole names, `*` matching any run of characters; RegExps are tested against the name.
   * Only list parameters the handler ignores: the first answer is replayed for every value.
   * @default [] (every parameter counts)
   */
  ignoreQuery?: readonly QueryNamePattern[];
  /**
   * Keys longer than this many characters are shortened: their tail is replaced by a SHA-1 of
   * the whole key, so a long path cannot make a huge key. Must be at least 64.
   * @default 512
   */
  maxKeyLength?: number;
  /**
   * Requests whose query string (everything after `?`) is longer than this many characters are
   * not cached: `X-Cache: BYPASS` and a `bypass` event with reason `query-too-long`. The check
   * is made before the query is parsed, so a hostile 16 KB query costs nothing to refuse. There
   * is no "off" value (0 is rejected); pass a large number to lift it.
   * @default 4096
   */
  maxQueryLength?: number;
  /**
   * Requests with more query parameters than this (non-empty `&`-separated parts, ignored names
   * included) are not cached: `X-Cache: BYPASS` and a `bypass` event with reason
   * `too-many-params`. Checked after `maxQueryLength`, before anything is decoded. 0 is rejected.
   * @default 128
   */
  maxQueryParams?: number;
  /**
   * Put the request's host and port (`req.get('host')`, or the first `X-Forwarded-Host` under
   * `trust proxy`) in the key, next to the scheme (`req.protocol`), as RFC 9111 §2 keys a cache
   * on the target URI. `false` shares one entry across every host and port the app answers for;
   * only safe when no answer depends on them (no absolute links built from the Host header).
   * The scheme is always in the key.
   * @default true
   */
  keyByHost?: boolean;
  /**
   * Follow the answer's own freshness only (RFC 9111 §4.2: `s-maxage`, else `max-age`, else
   * `Expires` minus `Date`, less the `Age` it arrived with): answers without an explicit
   * lifetime are not stored (no fallback), and `ttl` is not used. The same as `ttl: 'origin'`.
   * @default false
   */
  ttlFromCacheControl?: boolean;
  /**
   * Invalidate on writes (RFC 9111 §4.4): a request with an unsafe method (POST, PUT, PATCH,
   * DELETE, ...) that passes through this middleware and is answered 2xx or 3xx removes the
   * stored answers for its path (every query string and variant) and for a same-origin
   * `Location` / `Content-Location`, before its answer is sent. Mounted on a GET route made
   * with `app.route(path)`, the route's other methods are covered too; elsewhere use
   * `invalidateOnWrite()`.
   * @default true
   */
  invalidateOnUnsafe?: boolean;
  /**
   * The `Cache-Control` header sent to clients with stored or storable answers, e.g.
   * `'public, max-age=60'`. The stored entry keeps the handler's own header. Answers the cache
   * will not store keep the handler's header untouched.
   * @default undefined (the handler's header is sent as it is)
   */
  cacheControl?: string;
  /**
   * Let a request's `Cache-Control: no-cache` (or `Pragma: no-cache`) skip the stored entry and
   * refresh it from the handler. Off by default, so a client cannot force origin load at will.
   * @default false
   */
  honorNoCache?: boolean;
  /**
   * Store bodies of at least this many bytes gzip-compressed (Node's zlib), to save store
   * memory; clients still receive the original bytes. `0` turns it off. Bodies the handler
   * already encoded (`Content-Encoding`) are stored as they are.
   * @default 0 (off)
   */
  compressStoredBodiesOver?: number;
  /**
   * Adds `X-Cache-Reason` to answers that were not served from or stored in the cache, naming
   * why (`set-cookie`, `private`, `status`, `authorization`, `query-too-long`, ... see "Why
   * was this not cached?" in docs/observability.md). For development: reasons are not for clients.
   * @default false, or true when the environment variable `EXPRESS_CACHE_KIT_DEBUG` is `1` or `true`
   */
  debug?: boolean;

  // Everyday switches

  /**
   * Return `true` to let this request pass through uncached (`X-Cache: BYPASS`, a `bypass`
   * event with reason `skipped`): e.g. `(req) => req.query.preview !== undefined`. Called before
   * the lookup, for GET and HEAD requests only; a throwing function skips too.
   * @default none (every request is looked up)
   */
  skip?: (req: Request, res: Response) => boolean;
  /**
   * The key of a request, replacing the URL hash: answers are stored under
   * `api:{endpoint}:{key(req)}`, so requests the function maps to one string share one answer
   * (Vary variants and `varyBy` still apply on top). Return a non-empty string; a throwing
   * function, or another result, passes the request through uncached (`X-Cache: BYPASS`,
   * reason `key-threw`).
   * @default the scheme, host, path and normalised query (see `keyByHost`, `ignoreQuery`)
   */
  key?: (req: Request) => string;
  /**
   * `false` turns this middleware into a pass-through (`X-Cache: BYPASS`, reason `disabled`),
   * for tests and development; so does a cache created with `enabled: false`.
   * @default true, or false when the environment variable `EXPRESS_CACHE_KIT_ENABLED` is `false` or `0`
   */
  enabled?: boolean;
  /**
   * Cookie names that do not make a request bypass the cache: when every cookie a request
   * carries matches one of them, it is served and stored like a request without cookies. For
   * analytics cookies, which the browser sends and the server never reads. Strings match whole
   * names, `*` matching any run of characters; RegExps are tested against the name. `[]` makes
   * any cookie bypass.
   * @default {@link DEFAULT_IGNORED_COOKIES} (`_ga`, `_ga_*`, `_gid`, `_gat*`, `_gcl_*`, `_fbp`, `_fbc`, `_hj*`, `_pk_*`)
   */
  ignoreCookies?: readonly QueryNamePattern[];
  /**
   * Send the route's tags to the CDN in front: `true` sends `Surrogate-Key` (Fastly and most
   * CDNs); `{ cacheTag: true }` adds `Cache-Tag` (Cloudflare). The keys are the scope
   * (`character`), the scope tags (`character:1`), the route's `tags(req)` and an opaque key of
   * the path, on misses and hits alike, so the `purge` hook of `createCache` can purge exactly
   * what an invalidation covers. Keys a header cannot carry (over 1 KB, a space, past 16 KB for
   * the header) are left out with a `warning` event; a header is never cut short.
   * @default false
   */
  surrogateKeys?: boolean | SurrogateKeysOptions;
  /**
   * The response header that speaks to this cache alone (RFC 9213 targeted cache control): when
   * the handler sets it, it replaces `Cache-Control` for every decision of this cache (storing,
   * lifetime, stale windows) and is removed from the answer, while `Cache-Control` goes on to
   * browsers and `CDN-Cache-Control` to the CDN (this cache never reads that one). A value that
   * is not a valid Structured Field dictionary is ignored. `false`: read `Cache-Control` only.
   * `'CDN-Cache-Control'` makes this cache read that field (and remove it): only for an app that
   * is itself the edge, with no CDN in front.
   * @default 'Express-Cache-Control'
   */
  cacheControlField?: string | false;
}

/** Which tag headers a route sends (see `surrogateKeys`). @internal */
export interface SurrogateHeaderChoice {
  /** `Surrogate-Key` (Fastly, Varnish, most CDNs): keys separated by spaces. */
  surrogateKey: boolean;
  /** `Cache-Tag` (Cloudflare): tags separated by commas. */
  cacheTag: boolean;
}

/**
 * The object form of {@link CacheResponseOptions.surrogateKeys}.
 *
 * @example
 * ```ts
 * cacheResponse({ keyPrefix: 'character', surrogateKeys: { surrogateKey: false, cacheTag: true } }); // Cloudflare only
 * ```
 */
export interface SurrogateKeysOptions {
  /**
   * Send `Surrogate-Key` (keys separated by spaces; 1 KB a key, 16 KB the header).
   * @default true
   */
  surrogateKey?: boolean;
  /**
   * Send `Cache-Tag` (tags separated by commas; 16 KB the header).
   * @default false
   */
  cacheTag?: boolean;
}

/**
 * Analytics cookies that never make a request bypass the cache by default (see
 * `CacheResponseOptions.ignoreCookies`): Google Analytics and Ads, Meta Pixel, Hotjar, Matomo.
 *
 * @example
 * ```ts
 * cacheResponse({ ignoreCookies: [...DEFAULT_IGNORED_COOKIES, 'consent'] });
 * ```
 */
export const DEFAULT_IGNORED_COOKIES: readonly string[] = Object.freeze(['_ga', '_ga_*', '_gid', '_gat*', '_gcl_*', '_fbp', '_fbc', '_hj*', '_pk_*']);

/** The `debug` default: the `EXPRESS_CACHE_KIT_DEBUG` environment variable. */
function debugFromEnvironment(): boolean {
  const value = process.env.EXPRESS_CACHE_KIT_DEBUG;
  return value === '1' || value === 'true';
}

/** @internal */
export interface ResolvedCacheResponseOptions {
  ttl: Ttl | undefined;
  /** The origin's lifetime is not capped by a route TTL (`ttl: 'origin'`, `ttlFromCacheControl`). */
  originOnly: boolean;
  /** Only answers with an explicit lifetime are stored (`ttl: 'origin'`, `ttlFromCacheControl`). */
  explicitOnly: boolean;
  invalidateOnUnsafe: boolean;
  keyPrefix: string | undefined;
  cache: Cache | undefined;
  statuses: ReadonlySet<number>;
  shareAuthenticated: boolean;
  maxBodyBytes: number;
  tags: ((req: Request) => readonly string[]) | undefined;
  /** Which scope tags the answers get (see `scope`, `scopeParam`). */
  scoping: RouteScoping;
  /** Lower-case header names, or a function; undefined when nothing is added. */
  varyBy: readonly string[] | ((req: Request) => string) | undefined;
  /** Whether `varyBy` makes requests with `Authorization` / `Cookie` safe to serve. */
  varyCoversAuthorization: boolean;
  varyCoversCookie: boolean;
  /** Predicate over query names, or undefined when nothing is ignored. */
  ignoreQuery: ((name: string) => boolean) | undefined;
  maxKeyLength: number;
  maxQueryLength: number;
  maxQueryParams: number;
  keyByHost: boolean;
  ttlFromCacheControl: boolean;
  cacheControl: string | undefined;
  honorNoCache: boolean;
  compressStoredBodiesOver: number;
  debug: boolean;
  freshness: ResolvedFreshness;
  skip: ((req: Request, res: Response) => boolean) | undefined;
  key: ((req: Request) => string) | undefined;
  enabled: boolean;
  /** Whether a cookie name is ignored; undefined when none is. */
  ignoreCookie: ((name: string) => boolean) | undefined;
  /** Background revalidation and refresh-ahead (refresh-options.ts). */
  refresh: ResolvedRouteRefresh;
  /** Which tag headers to send; undefined when none. */
  surrogate: SurrogateHeaderChoice | undefined;
  /** The targeted field's lower-case name; undefined when off. */
  cacheControlField: string | undefined;
}

/** Defaults of {@link CacheResponseOptions}. */
export const DEFAULT_CACHE_RESPONSE_OPTIONS = Object.freeze({
  statuses: Object.freeze([200]) as readonly number[],
  shareAuthenticated: false,
  maxBodyBytes: 1024 * 1024,
  ignoreQuery: Object.freeze([]) as readonly QueryNamePattern[],
  maxKeyLength: 512,
  maxQueryLength: 4096,
  maxQueryParams: 128,
  keyByHost: true,
  ttlFromCacheControl: false,
  honorNoCache: false,
  compressStoredBodiesOver: 0,
  invalidateOnUnsafe: true,
  surrogateKeys: false,
  cacheControlField: 'Express-Cache-Control',
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function resolveVaryBy(value: unknown): readonly string[] | ((req: Request) => string) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as (req: Request) => string;
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string' || !HEADER_NAME.test(name))) {
    throw new InvalidOptionError('varyBy', 'expected an array of request header names or a function (req) => string');
  }
  return [...new Set((value as string[]).map((name) => name.toLowerCase()))];
}

function resolveIgnoreQuery(value: unknown): ((name: string) => boolean) | undefined {
  const patterns = value ?? DEFAULT_CACHE_RESPONSE_OPTIONS.ignoreQuery;
  if (!Array.isArray(patterns) || patterns.some((p) => !(p instanceof RegExp) && (typeof p !== 'string' || p === ''))) {
    throw new InvalidOptionError('ignoreQuery', 'expected an array of parameter names, globs like "utm_*", or RegExps');
  }
  if (patterns.length === 0) return undefined;
  return queryNameMatcher(patterns as QueryNamePattern[]);
}

// Every option name of cacheResponse, once: the compiler keeps this equal to
// CacheResponseOptions (a new option is added to the interface and here).
const CACHE_RESPONSE_OPTION_NAMES = optionNames<CacheResponseOptions>({
  ttl: true,
  keyPrefix: true,
  maxQueryLength: true,
  maxQueryParams: true,
  keyByHost: true,
  cache: true,
  statuses: true,
  shareAuthenticated: true,
  maxBodyBytes: true,
  tags: true,
  varyBy: true,
  ignoreQuery: true,
  maxKeyLength: true,
  ttlFromCacheControl: true,
  invalidateOnUnsafe: true,
  cacheControl: true,
  honorNoCache: true,
  compressStoredBodiesOver: true,
  debug: true,
  staleWhileRevalidate: true,
  staleIfError: true,
  limiter: true,
  scope: true,
  scopeParam: true,
  skip: true,
  key: true,
  enabled: true,
  ignoreCookies: true,
  ...ROUTE_REFRESH_OPTION_NAMES,
  surrogateKeys: true,
  cacheControlField: true,
});

function optionalFunction<F>(option: string, value: unknown, expected: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(option, `expected a function ${expected}`);
  return value as F | undefined;
}

function resolveIgnoreCookies(value: unknown): ((name: string) => boolean) | undefined {
  const patterns = value ?? DEFAULT_IGNORED_COOKIES;
  if (!Array.isArray(patterns) || patterns.some((p) => !(p instanceof RegExp) && (typeof p !== 'string' || p === ''))) {
    throw new InvalidOptionError('ignoreCookies', 'expected an array of cookie names, globs like "_ga_*", or RegExps');
  }
  return patterns.length === 0 ? undefined : queryNameMatcher(patterns as QueryNamePattern[]);
}

function resolveScoping(options: CacheResponseOptions, keyPrefix: string | undefined): RouteScoping {
  const { scope, scopeParam } = options;
  if (scope !== undefined && scope !== false && (typeof scope !== 'string' || scope === '')) {
    throw new InvalidOptionError('scope', `expected a non-empty scope name or false, got ${String(scope)}`);
  }
  if (scopeParam !== undefined && typeof scopeParam !== 'function' && (typeof scopeParam !== 'string' || scopeParam === '')) {
    throw new InvalidOptionError('scopeParam', 'expected a route parameter name or a function (params) => id | id[]');
  }
  const name = scope === false ? undefined : (scope ?? (namesScope(keyPrefix) ? keyPrefix : undefined));
  return { scope: name, param: scopeParam };
}

const SURROGATE_KEYS_OPTION_NAMES = optionNames<SurrogateKeysOptions>({ surrogateKey: true, cacheTag: true });

function resolveSurrogateKeys(value: unknown): SurrogateHeaderChoice | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { surrogateKey: true, cacheTag: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError('surrogateKeys', `expected true, false or { surrogateKey?, cacheTag? }, got ${String(value)}`);
  }
  rejectUnknownOptions('cacheResponse surrogateKeys', value, SURROGATE_KEYS_OPTION_NAMES, 'surrogateKeys.');
  const options = value as SurrogateKeysOptions;
  const choice = {
    surrogateKey: optionalBoolean('surrogateKeys.surrogateKey', options.surrogateKey, true),
    cacheTag: optionalBoolean('surrogateKeys.cacheTag', options.cacheTag, false),
  };
  return choice.surrogateKey || choice.cacheTag ? choice : undefined;
}

function resolveCacheControlField(value: unknown): string | undefined {
  if (value === false) return undefined;
  const name = value ?? DEFAULT_CACHE_RESPONSE_OPTIONS.cacheControlField;
  if (typeof name !== 'string' || !HEADER_NAME.test(name)) throw new InvalidOptionError('cacheControlField', `expected a header name or false, got ${String(name)}`);
  const lower = name.toLowerCase();
  if (lower === 'cache-control') {
    throw new InvalidOptionError('cacheControlField', `"${name}" is read anyway; name a field for this cache alone, e.g. 'Express-Cache-Control', or pass false`);
  }
  return lower;
}

/** @internal */
export function resolveCacheResponseOptions(
  options: CacheResponseOptions,
  profilesFor: (cache: Cache | undefined) => TtlProfiles,
): ResolvedCacheResponseOptions {
  plainObject('cacheResponse options', options);
  rejectUnknownOptions('cacheResponse', options, CACHE_RESPONSE_OPTION_NAMES);
  const ttl = options.ttl === 'origin' ? undefined : options.ttl;
  if (ttl !== undefined) resolveTtl('ttl', ttl, profilesFor(options.cache));
  const ttlFromCacheControl = optionalBoolean('ttlFromCacheControl', options.ttlFromCacheControl, DEFAULT_CACHE_RESPONSE_OPTIONS.ttlFromCacheControl);
  const statuses = options.statuses ?? DEFAULT_CACHE_RESPONSE_OPTIONS.statuses;
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidOptionError('statuses', 'expected an array of HTTP status codes (100-599)');
  }
  const never = statuses.find((s) => !isReplayableStatus(s));
  if (never !== undefined) throw new InvalidOptionError('statuses', `${never} is never stored: 1xx, 204 and 304 answers carry no content to replay`);
  const maxKeyLength = positiveInteger('maxKeyLength', options.maxKeyLength, DEFAULT_CACHE_RESPONSE_OPTIONS.maxKeyLength);
  if (maxKeyLength < 64) throw new InvalidOptionError('maxKeyLength', `expected at least 64, got ${maxKeyLength}`);
  const cacheControl = optionalString('cacheControl', options.cacheControl);
  if (cacheControl !== undefined && /[\r\n]/.test(cacheControl)) {
    throw new InvalidOptionError('cacheControl', 'expected a header value without line breaks');
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    throw new InvalidOptionError('tags', 'expected a function (req) => string[]');
  }
  const compressOver = options.compressStoredBodiesOver ?? DEFAULT_CACHE_RESPONSE_OPTIONS.compressStoredBodiesOver;
  if (typeof compressOver !== 'number' || !Number.isInteger(compressOver) || compressOver < 0) {
    throw new InvalidOptionError('compressStoredBodiesOver', `expected a non-negative integer (0 = off), got ${String(compressOver)}`);
  }
  const varyBy = resolveVaryBy(options.varyBy);
  const keyPrefix = optionalString('keyPrefix', options.keyPrefix);
  return {
    ttl,
    originOnly: options.ttl === 'origin' || ttlFromCacheControl,
    explicitOnly: options.ttl === 'origin' || ttlFromCacheControl,
    invalidateOnUnsafe: optionalBoolean('invalidateOnUnsafe', options.invalidateOnUnsafe, DEFAULT_CACHE_RESPONSE_OPTIONS.invalidateOnUnsafe),
    keyPrefix,
    cache: options.cache,
    statuses: new Set(statuses),
    shareAuthenticated: optionalBoolean('shareAuthenticated', options.shareAuthenticated, DEFAULT_CACHE_RESPONSE_OPTIONS.shareAuthenticated),
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_CACHE_RESPONSE_OPTIONS.maxBodyBytes),
    tags: options.tags,
    scoping: resolveScoping(options, keyPrefix),
    varyBy,
    varyCoversAuthorization: typeof varyBy === 'function' || (varyBy?.includes('authorization') ?? false),
    varyCoversCookie: typeof varyBy === 'function' || (varyBy?.includes('cookie') ?? false),
    ignoreQuery: resolveIgnoreQuery(options.ignoreQuery),
    maxKeyLength,
    maxQueryLength: positiveInteger('maxQueryLength', options.maxQueryLength, DEFAULT_CACHE_RESPONSE_OPTIONS.maxQueryLength),
    maxQueryParams: positiveInteger('maxQueryParams', options.maxQueryParams, DEFAULT_CACHE_RESPONSE_OPTIONS.maxQueryParams),
    keyByHost: optionalBoolean('keyByHost', options.keyByHost, DEFAULT_CACHE_RESPONSE_OPTIONS.keyByHost),
    ttlFromCacheControl,
    cacheControl,
    honorNoCache: optionalBoolean('honorNoCache', options.honorNoCache, DEFAULT_CACHE_RESPONSE_OPTIONS.honorNoCache),
    compressStoredBodiesOver: compressOver,
    debug: optionalBoolean('debug', options.debug, debugFromEnvironment()),
    freshness: resolveFreshness(options),
    skip: optionalFunction('skip', options.skip, '(req, res) => boolean'),
    key: optionalFunction('key', options.key, '(req) => string'),
    enabled: optionalBoolean('enabled', options.enabled, enabledFromEnvironment()),
    ignoreCookie: resolveIgnoreCookies(options.ignoreCookies),
    refresh: resolveRouteRefresh(options),
    surrogate: resolveSurrogateKeys(options.surrogateKeys),
    cacheControlField: resolveCacheControlField(options.cacheControlField),
  };
}

// invalidateAfter

/** Options of {@link invalidateAfter}. */
export interface InvalidateAfterOptions {
  /**
   * The cache to invalidate.
   * @default the default cache when the response finishes ({@link getDefaultCache})
   */
  cache?: Cache;
  /**
   * Called when the spec throws, or (with `strict`) when the store could not take the
   * invalidation now; the response goes out either way. Store failures are also emitted as the
   * cache's `error` event.
   * @default emits a process warning (`CACHE_INVALIDATE_AFTER`)
   */
  onError?: (error: Error, req: Request, res: Response) => void;
  /**
   * Report an invalidation the store could not take now (journaled, applied when the store
   * answers again) to `onError` as an `InvalidationPendingError`. Without it, only the cache's
   * `error` event says so.
   * @default false
   */
  strict?: boolean;
  /**
   * The longest the response is held for its invalidation, in ms: past it, the answer goes out
   * and the invalidation finishes afterwards. Store commands have their own timeouts (100 ms on
   * Redis), and an invalidation the store cannot take is journaled at once, so this only bounds
   * a store that neither answers nor fails.
   * @default 2000
   */
  timeoutMs?: number;
}

/** @internal */
export interface ResolvedInvalidateAfterOptions {
  cache: Cache | undefined;
  onError: (error: Error, req: Request, res: Response) => void;
  strict: boolean;
  timeoutMs: number;
}

const INVALIDATE_AFTER_OPTION_NAMES = optionNames<InvalidateAfterOptions>({ cache: true, onError: true, strict: true, timeoutMs: true });
const INVALIDATION_TARGET_NAMES = optionNames<InvalidationTargets>({ scopes: true, tags: true, keys: true, patterns: true, soft: true });

/** @internal */
export function resolveInvalidateAfterOptions(spec: unknown, options: InvalidateAfterOptions): ResolvedInvalidateAfterOptions {
  if (typeof spec !== 'function' && (spec === null || typeof spec !== 'object')) {
    throw new InvalidOptionError('spec', 'expected InvalidationTargets or a function (req, res) => InvalidationTargets');
  }
  // Fixed targets are checked now; computed ones cannot be until a request returns them.
  if (typeof spec === 'object') rejectUnknownOptions('invalidateAfter targets', spec, INVALIDATION_TARGET_NAMES, 'spec.');
  plainObject('invalidateAfter options', options);
  rejectUnknownOptions('invalidateAfter', options, INVALIDATE_AFTER_OPTION_NAMES);
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidOptionError('onError', 'expected a function (error, req, res) => void');
  }
  return {
    cache: options.cache,
    strict: optionalBoolean('strict', options.strict, false),
    timeoutMs: positiveInteger('timeoutMs', options.timeoutMs, 2_000),
    onError:
      options.onError ??
      ((error, req) => process.emitWarning(`invalidateAfter for ${req.method} ${req.originalUrl} failed: ${error.message}`, { code: 'CACHE_INVALIDATE_AFTER' })),
  };
}

