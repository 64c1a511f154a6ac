import { crc32 } from 'node:zlib';

/**
 * The stored envelope. A store only sees the bytes produced here; everything that gives those
 * bytes meaning (timestamps, status, headers, JS types) lives in this module.
 *
 * Layout (version 2): `0xEC`, format version, kind, uint32 BE length of a JSON metadata block,
 * uint32 BE length of the body, uint32 BE CRC-32 of every other byte of the entry, the metadata,
 * then (for responses) the raw body bytes. Keeping the body out of JSON is what makes hits cheap:
 * decoding a response is one small `JSON.parse`, one CRC-32 (`zlib.crc32`, native) and a
 * zero-copy `subarray`. The lengths catch a truncated value, the checksum a damaged one, and the
 * decoder checks that status and headers could be sent as they are (RFC 9110 §5, §15), so a bad
 * entry is a miss (deleted by the engine) rather than a wrong or broken answer.
 */

const MAGIC = 0xec;
// Version 1 (no lengths, no checksum) is not read: entries written by older releases are misses.
const VERSION = 2;
const HEADER_BYTES = 15;
const CRC_AT = 11;
const KIND_VALUE = 1;
const KIND_RESPONSE = 2;

/** Header values as Node's `res.getHeaders()` reports them, minus numbers (stored as strings). */
export type StoredHeaders = Record<string, string | string[]>;

/** Timestamps shared by every entry, in epoch milliseconds. */
export interface EntryTimes {
  /** When the entry was written. */
  createdAt: number;
  /** When the entry stops being fresh. */
  expiresAt: number;
}

/** A cached JS value, as stored by `Cache.set` and `Cache.wrap`. */
export interface ValueEntry extends EntryTimes {
  kind: 'value';
  value: unknown;
}

/** A cached HTTP response, as stored by `cacheResponse`. */
export interface ResponseEntry extends EntryTimes {
  kind: 'response';
  /** The HTTP status code. */
  status: number;
  /** The headers worth replaying (lower-case names). */
  headers: StoredHeaders;
  /** The body exactly as it was sent, or gzip-compressed when `bodyEncoding` says so. */
  body: Buffer;
  /**
   * Set when the cache compressed the body for storage (`compressStoredBodiesOver`); clients
   * never see this coding, the middleware undoes it before replaying. Absent otherwise.
   */
  bodyEncoding?: 'gzip';
  /**
   * The age in seconds the response already had when it was stored (its `Age` field, or the
   * time since its `Date`; RFC 9111 §4.2.3), so `Age` on a hit is this plus the time since
   * `createdAt`. Absent when 0.
   */
  age?: number;
  /**
   * The request that produced the answer, for people reading the cache (dashboard, CLI): keys
   * are hashes, this says which URL one holds. Never used to answer requests. Absent on entries
   * stored by older releases and by `setResponse` without it.
   */
  source?: RequestSource;
}

/** The request a stored response answered: method, path and raw query, as the client sent them. */
export interface RequestSource {
  /** `GET` or `HEAD`. */
  method: string;
  /** The path of `req.originalUrl` (mount path included), e.g. `/characters/1`. */
  path: string;
  /** Everything after the first `?` (`''` when there was none), undecoded. */
  query: string;
}

/** Anything the serializer can store. */
export type Entry = ValueEntry | ResponseEntry;

/** Raised when stored bytes cannot be decoded; the cache treats it as a miss. @internal */
export class CorruptEntryError extends Error {
  constructor(reason: string) {
    super(`corrupt cache entry: ${reason}`);
    this.name = 'CorruptEntryError';
  }
}

// The tag key marks values JSON cannot carry on its own. A user object that happens to own this
// key is wrapped as 'Object' so it cannot be mistaken for a tagged value on the way back.
const TYPE = '$cacheType';

function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return { [TYPE]: 'Date', v: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
  if (Buffer.isBuffer(raw)) return { [TYPE]: 'Buffer', v: raw.toString('base64') };
  if (typeof raw === 'bigint') return { [TYPE]: 'BigInt', v: raw.toString() };
  if (raw instanceof Map) return { [TYPE]: 'Map', v: [...raw.entries()] };
  if (raw instanceof Set) return { [TYPE]: 'Set', v: [...raw] };
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, TYPE)) {
    return { [TYPE]: 'Object', v: Object.entries(value) };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const tagged = value as { [TYPE]?: unknown; v?: unknown };
  switch (tagged[TYPE]) {
    case 'Date':
      return new Date(tagged.v === null ? Number.NaN : String(tagged.v));
    case 'Buffer':
      return Buffer.from(String(tagged.v), 'base64');
    case 'BigInt':
      return BigInt(String(tagged.v));
    case 'Map':
      return new Map(tagged.v as Array<[unknown, unknown]>);
    case 'Set':
      return new Set(tagged.v as unknown[]);
    case 'Object':
      return Object.fromEntries(tagged.v as Array<[string, unknown]>);
    default:
      return value;
  }
}

function frame(kind: number, meta: string, body?: Buffer): Buffer {
  const metaLength = Buffer.byteLength(meta);
  const bodyLength = body ? body.length : 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + metaLength + bodyLength);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = kind;
  out.writeUInt32BE(metaLength, 3);
  out.writeUInt32BE(bodyLength, 7);
  out.write(meta, HEADER_BYTES, 'utf8');
  if (body) body.copy(out, HEADER_BYTES + metaLength);
  out.writeUInt32BE(checksum(out), CRC_AT);
  return out;
}

/** CRC-32 of an entry's bytes, skipping the checksum field itself. */
function checksum(bytes: Buffer): number {
  return crc32(bytes.subarray(HEADER_BYTES), crc32(bytes.subarray(0, CRC_AT)));
}

// RFC 9110 §5.1: a field name is a token. §5.5: a field value is visible characters, obs-text,
// spaces and tabs; CR, LF and NUL never. Node's setHeader refuses exactly the same characters.
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const INVALID_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function validHeaders(headers: unknown): headers is StoredHeaders {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return false;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (!FIELD_NAME.test(name)) return false;
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of values) if (typeof item !== 'string' || INVALID_FIELD_VALUE.test(item)) return false;
  }
  return true;
}

/**
 * Fields a stored response may never carry: the hop-by-hop ones describe one connection, not the
 * representation (RFC 9110 §7.6.1), and `Set-Cookie` belongs to one user. The middleware never
 * stores them, and an entry that carries one anyway (written by another release, by hand, or by
 * anything else that can reach the store) is refused on read: a replayed `Transfer-Encoding:
 * chunked` over a plain body breaks every answer for its key.
 * @internal
 */
export const NEVER_STORED_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
]);

/**
 * Whether a status can be stored and replayed as a final answer with its body: not 1xx (interim
 * answers, RFC 9110 §15.2), 204 or 304 (they never carry content, §15.3.5, §15.4.5).
 * @internal
 */
export function isReplayableStatus(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Why a response with this status and these headers may not be replayed, or `undefined` when it may. */
function notReplayable(status: number, headers: StoredHeaders): string | undefined {
  if (!isReplayableStatus(status)) return `status ${status} is never replayed`;
  for (const name of Object.keys(headers)) if (NEVER_STORED_FIELDS.has(name)) return `${name} is never replayed`;
  return undefined;
}

/**
 * Whether `setResponse` and the middleware may store this response: the same rule the decoder
 * applies on read, so what may not be stored is never replayed either.
 * @internal
 */
export function isStorableResponse(status: number, headers: StoredHeaders): boolean {
  return notReplayable(status, headers) === undefined;
}

/**
 * Encodes an entry to bytes.
 * @internal
 */
export function encodeEntry(entry: Entry): Buffer {
  if (entry.kind === 'value') {
    return frame(KIND_VALUE, JSON.stringify({ c: entry.createdAt, e: entry.expiresAt, v: entry.value }, replacer));
  }
  const meta: Meta = { c: entry.createdAt, e: entry.expiresAt, s: entry.status, h: entry.headers };
  if (entry.bodyEncoding !== undefined) meta.z = entry.bodyEncoding;
  if (entry.age !== undefined && entry.age > 0) meta.a = entry.age;
  if (entry.source !== undefined) meta.r = [entry.source.method, entry.source.path, entry.source.query];
  return frame(KIND_RESPONSE, JSON.stringify(meta), entry.body);
}

interface Meta {
  c: number;
  e: number;
  v?: unknown;
  s?: number;
  h?: StoredHeaders;
  /** The storage coding of a response body, when the cache compressed it. */
  z?: 'gzip';
  /** A response's age on arrival, in seconds. */
  a?: number;
  /** The request source of a response: method, path, query. */
  r?: [string, string, string];
}

function sourceOf(raw: unknown): RequestSource | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length !== 3 || !raw.every((part) => typeof part === 'string')) throw new CorruptEntryError('bad request source');
  const [method, path, query] = raw as [string, string, string];
  return { method, path, query };
}

/**
 * The request source of a response entry read from the first bytes of its stored value (the
 * metadata sits before the body), without the whole value: a listing of many keys reads a few
 * hundred bytes of each. `undefined` when `prefix` is not a response entry with a source, or does
 * not reach the end of the metadata; the checksum is not verified (it covers the body), so this
 * is for display only. `needed` is how many bytes would be enough when `prefix` was too short.
 * @internal
 */
export function peekSource(prefix: Buffer): { source?: RequestSource; needed?: number } {
  if (prefix.length < HEADER_BYTES || prefix[0] !== MAGIC || prefix[1] !== VERSION || prefix[2] !== KIND_RESPONSE) return {};
  const end = HEADER_BYTES + prefix.readUInt32BE(3);
  if (end > prefix.length) return { needed: end };
  try {
    const meta = JSON.parse(prefix.toString('utf8', HEADER_BYTES, end)) as Meta;
    const source = sourceOf(meta.r);
    return source === undefined ? {} : { source };
  } catch {
    return {};
  }
}

/**
 * `GET /search?q=1` for display; `undefined` without a source.
 * @internal
 */
export function formatSource(source: RequestSource | undefined): string | undefined {
  if (source === undefined) return undefined;
  return `${source.method} ${source.path}${source.query === '' ? '' : `?${source.query}`}`;
}

/**
 * Decodes bytes written by {@link encodeEntry}. Throws {@link CorruptEntryError} on anything
 * else, so a foreign or truncated value becomes a miss rather than a wrong answer.
 * @internal
 */
export function decodeEntry(bytes: Buffer): Entry {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC) throw new CorruptEntryError('bad magic');
  if (bytes[1] !== VERSION) throw new CorruptEntryError(`unknown version ${String(bytes[1])}`);
  const metaLength = bytes.readUInt32BE(3);
  const bodyLength = bytes.readUInt32BE(7);
  const bodyStart = HEADER_BYTES + metaLength;
  if (bodyStart + bodyLength > bytes.length) throw new CorruptEntryError('truncated');
  if (bodyStart + bodyLength < bytes.length) throw new CorruptEntryError('trailing bytes');
  if (checksum(bytes) !== bytes.readUInt32BE(CRC_AT)) throw new CorruptEntryError('checksum mismatch');
  let meta: Meta;
  try {
    meta = JSON.parse(bytes.toString('utf8', HEADER_BYTES, bodyStart), bytes[2] === KIND_VALUE ? reviver : undefined) as Meta;
  } catch (err) {
    throw new CorruptEntryError(`unreadable metadata (${(err as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || !Number.isFinite(meta.c) || !Number.isFinite(meta.e)) {
    throw new CorruptEntryError('missing timestamps');
  }
  if (bytes[2] === KIND_VALUE) {
    if (bodyLength !== 0) throw new CorruptEntryError('a value with a body');
    return { kind: 'value', createdAt: meta.c, expiresAt: meta.e, value: meta.v };
  }
  if (bytes[2] === KIND_RESPONSE) {
    const status = meta.s;
    // RFC 9110 §15: a status code is three digits, 100-599 in practice; Node refuses the rest.
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new CorruptEntryError(`bad status ${String(status)}`);
    }
    if (!validHeaders(meta.h)) throw new CorruptEntryError('bad headers');
    // A valid checksum says the bytes are what was written, not that they may be replayed.
    const refused = notReplayable(status, meta.h);
    if (refused !== undefined) throw new CorruptEntryError(refused);
    if (meta.z !== undefined && meta.z !== 'gzip') throw new CorruptEntryError(`unknown body coding ${String(meta.z)}`);
    const entry: ResponseEntry = {
      kind: 'response',
      createdAt: meta.c,
      expiresAt: meta.e,
      status,
      headers: meta.h,
      body: bytes.subarray(bodyStart),
    };
    if (meta.z !== undefined) entry.bodyEncoding = meta.z;
    if (meta.a !== undefined) {
      if (typeof meta.a !== 'number' || !Number.isInteger(meta.a) || meta.a < 0) throw new CorruptEntryError(`bad age ${String(meta.a)}`);
      entry.age = meta.a;
    }
    const source = sourceOf(meta.r);
    if (source !== undefined) entry.source = source;
    return entry;
  }
  throw new CorruptEntryError(`unknown kind ${String(bytes[2])}`);
}
