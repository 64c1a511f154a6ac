/**
 * The stored envelope. A store only sees the bytes produced here; everything that gives those
 * bytes meaning (timestamps, status, headers, JS types) lives in this module.
 *
 * Layout: `0xEC`, format version, kind, uint32 BE length of a JSON metadata block, the metadata,
 * then (for responses) the raw body bytes. Keeping the body out of JSON is what makes hits cheap:
 * decoding a response is one small `JSON.parse` and a zero-copy `subarray`.
 */

const MAGIC = 0xec;
const VERSION = 1;
const HEADER_BYTES = 7;
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
  const out = Buffer.allocUnsafe(HEADER_BYTES + metaLength + (body ? body.length : 0));
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = kind;
  out.writeUInt32BE(metaLength, 3);
  out.write(meta, HEADER_BYTES, 'utf8');
  if (body) body.copy(out, HEADER_BYTES + metaLength);
  return out;
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
  const bodyStart = HEADER_BYTES + metaLength;
  if (bodyStart > bytes.length) throw new CorruptEntryError('truncated');
  let meta: Meta;
  try {
    meta = JSON.parse(bytes.toString('utf8', HEADER_BYTES, bodyStart), bytes[2] === KIND_VALUE ? reviver : undefined) as Meta;
  } catch (err) {
    throw new CorruptEntryError(`unreadable metadata (${(err as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || typeof meta.c !== 'number' || typeof meta.e !== 'number') {
    throw new CorruptEntryError('missing timestamps');
  }
  if (bytes[2] === KIND_VALUE) {
    if (bodyStart !== bytes.length) throw new CorruptEntryError('trailing bytes');
    return { kind: 'value', createdAt: meta.c, expiresAt: meta.e, value: meta.v };
  }
  if (bytes[2] === KIND_RESPONSE) {
    if (typeof meta.s !== 'number' || typeof meta.h !== 'object' || meta.h === null) {
      throw new CorruptEntryError('missing status or headers');
    }
    if (meta.z !== undefined && meta.z !== 'gzip') throw new CorruptEntryError(`unknown body coding ${String(meta.z)}`);
    const entry: ResponseEntry = {
      kind: 'response',
      createdAt: meta.c,
      expiresAt: meta.e,
      status: meta.s,
      headers: meta.h,
      body: bytes.subarray(bodyStart),
    };
    if (meta.z !== undefined) entry.bodyEncoding = meta.z;
    return entry;
  }
  throw new CorruptEntryError(`unknown kind ${String(bytes[2])}`);
}
