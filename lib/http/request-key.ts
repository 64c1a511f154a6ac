import type { Request } from 'express';
import type { BypassReason } from '../engine/events';
import { apiKey, boundKey, countQueryParams } from '../keys';

// A request URL maps to one key, so recent ones are remembered: a memo hit skips parsing and
// hashing. Per generation of the memo (it keeps two), bounded by characters as well as by count.
const KEY_MEMO_SIZE = 1_000;
const KEY_MEMO_CHARS = 1_000_000;
// Keys remembered for one URL (under different hosts or endpoints); past it the URL starts over,
// so a flood of Host values for one URL cannot make a lookup walk a long list.
const KEY_MEMO_PER_URL = 4;

/** What a response key is computed from: the target URI as Express reports it, split. */
export interface RequestKeyInput {
  /** The endpoint in `api:{endpoint}:{hash}` (`keyPrefix`, else the route path). */
  endpoint: string;
  /** `req.protocol`: `http` or `https` (`X-Forwarded-Proto` under `trust proxy`). */
  protocol: string;
  /** The host and port (`req.get('host')`; the first `X-Forwarded-Host` under `trust proxy`); undefined without a Host. */
  host: string | undefined;
  /** The path part of `req.originalUrl`, as sent. */
  path: string;
  /** Everything after the first `?` of `req.originalUrl` (`''` when there is none). */
  rawQuery: string;
}

/** The options of {@link requestKey}, resolved (see `CacheResponseOptions` for their meaning). */
export interface RequestKeyOptions {
  ignoreQuery: ((name: string) => boolean) | undefined;
  maxKeyLength: number;
  maxQueryLength: number;
  maxQueryParams: number;
  keyByHost: boolean;
}

/** A request's key, or why the request is not cached at all. */
export type RequestKeyResult = { key: string } | { bypass: Extract<BypassReason, 'query-too-long' | 'too-many-params'> };

/**
 * The response key of a request, or a bypass when its query is over a bound. The bounds are
 * checked first, in time independent of (length) or linear in (parameters) the query and
 * without decoding anything, so an oversized query costs next to nothing; a query within them is
 * keyed in one linear pass plus one SHA-1 (see `apiKey`).
 *
 * @example
 * ```ts
 * const opts = { ignoreQuery: undefined, maxKeyLength: 512, maxQueryLength: 4096, maxQueryParams: 128, keyByHost: true };
 * requestKey({ endpoint: 'status', protocol: 'https', host: 'api.example.com', path: '/status', rawQuery: 'a=1' }, opts);
 * // { key: 'api:status:…' }
 * ```
 */
export function requestKey(input: RequestKeyInput, opts: RequestKeyOptions): RequestKeyResult {
  if (input.rawQuery.length > opts.maxQueryLength) return { bypass: 'query-too-long' };
  if (countQueryParams(input.rawQuery) > opts.maxQueryParams) return { bypass: 'too-many-params' };
  const target = { protocol: input.protocol, host: opts.keyByHost ? (input.host ?? '') : undefined };
  return { key: boundKey(apiKey(input.endpoint, input.path, input.rawQuery, opts.ignoreQuery, target), opts.maxKeyLength) };
}

/**
 * A memoised {@link requestKey} over Express requests, for one `cacheResponse` instance: the
 * key as a string, or why the request is not cached.
 *
 * @example
 * ```ts
 * const keyOf = requestKeyer(opts);
 * const key = keyOf(req, 'status');
 * if (typeof key !== 'string') res.setHeader('X-Cache', 'BYPASS');
 * ```
 */
export function requestKeyer(opts: RequestKeyOptions): (req: Request, endpoint: string) => string | Extract<RequestKeyResult, { bypass: string }> {
  const memo = new KeyMemo(KEY_MEMO_SIZE, KEY_MEMO_CHARS);
  return (req, endpoint) => {
    const url = req.originalUrl;
    const queryAt = url.indexOf('?');
    // Bounds before the memo: an oversized query must not even cost a memo lookup on its length.
    if (queryAt !== -1 && url.length - queryAt - 1 > opts.maxQueryLength) return { bypass: 'query-too-long' };
    const { protocol, host } = targetOf(req, opts.keyByHost);
    const known = memo.get(url, endpoint, protocol, host);
    if (known !== undefined) return known;
    const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
    const result = requestKey({ endpoint, protocol, host, path: queryAt === -1 ? url : url.slice(0, queryAt), rawQuery }, opts);
    if (!('key' in result)) return result;
    memo.set(url, endpoint, protocol, host, result.key);
    return result.key;
  };
}

/**
 * The scheme and host a request is keyed on: `req.protocol`, and the host with its port as the
 * handler reads it from `req.get('host')` (Express 5's `req.host`; under `trust proxy`, the
 * first `X-Forwarded-Host`). The port counts: an app that builds links from the Host header
 * answers `app.example:1337` differently from `app.example` (RFC 9111 §2 keys on the target URI).
 * Without `trust proxy` (Express' default) the socket and the `Host` header are read directly,
 * which is what Express does then, without its settings lookups on every request.
 */
function targetOf(req: Request, byHost: boolean): { protocol: string; host: string } {
  const settings = (req.app as { settings?: Record<string, unknown> } | undefined)?.settings;
  if (settings?.['trust proxy'] !== false) return { protocol: req.protocol, host: byHost ? trustedHost(req, settings) : '' };
  const protocol = (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  return { protocol, host: byHost ? (req.headers.host ?? '') : '' };
}

/** The host and port under `trust proxy`, as Express 5's `req.host` computes them (Express 4 has no such getter). */
function trustedHost(req: Request, settings: Record<string, unknown> | undefined): string {
  const trust = settings?.['trust proxy fn'];
  const forwarded = req.headers['x-forwarded-host'];
  const header = Array.isArray(forwarded) ? forwarded[0] : forwarded;
  if (header !== undefined && header !== '' && typeof trust === 'function' && (trust as (addr: string | undefined, i: number) => boolean)(req.socket?.remoteAddress, 0)) {
    const comma = header.indexOf(',');
    return comma === -1 ? header : header.slice(0, comma).trimEnd();
  }
  return req.headers.host ?? '';
}

/** A remembered key: the parts it was computed from besides the URL, and the next one for the same URL. */
interface Memoised {
  endpoint: string;
  protocol: string;
  host: string;
  key: string;
  next: Memoised | undefined;
}

/**
 * A bounded memo of recent keys in two generations of plain Maps: lookups and inserts are one
 * Map operation each, and when the young generation is full the old one is dropped whole. On
 * a miss path (every URL new) that is cheaper than an LRU's list upkeep and per-entry
 * eviction, and a URL asked for again is promoted, so hot URLs stay. Bounded by entries and by
 * characters per generation (hostile URLs can be as long as the server's header limit).
 *
 * The Map is keyed by the URL alone and the other parts are compared: no string is built per
 * request to look one up. One URL under several hosts (or endpoints) is a short chain.
 */
class KeyMemo {
  private young = new Map<string, Memoised>();
  private old = new Map<string, Memoised>();
  private youngChars = 0;
  private youngEntries = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  get(url: string, endpoint: string, protocol: string, host: string): string | undefined {
    const known = find(this.young.get(url), endpoint, protocol, host);
    if (known !== undefined) return known.key;
    const older = find(this.old.get(url), endpoint, protocol, host);
    if (older !== undefined) this.set(url, endpoint, protocol, host, older.key);
    return older?.key;
  }

  set(url: string, endpoint: string, protocol: string, host: string, key: string): void {
    const chars = url.length + endpoint.length + host.length + key.length;
    if (chars > this.maxChars) return;
    if (this.youngEntries >= this.maxEntries || this.youngChars + chars > this.maxChars) {
      this.old = this.young;
      this.young = new Map();
      this.youngChars = 0;
      this.youngEntries = 0;
    }
    const first = this.young.get(url);
    this.young.set(url, { endpoint, protocol, host, key, next: first !== undefined && chainLength(first) < KEY_MEMO_PER_URL ? first : undefined });
    this.youngChars += chars;
    this.youngEntries++;
  }
}

function chainLength(first: Memoised): number {
  let length = 0;
  for (let at: Memoised | undefined = first; at !== undefined; at = at.next) length++;
  return length;
}

function find(first: Memoised | undefined, endpoint: string, protocol: string, host: string): Memoised | undefined {
  for (let at = first; at !== undefined; at = at.next) {
    if (at.host === host && at.endpoint === endpoint && at.protocol === protocol) return at;
  }
  return undefined;
}
