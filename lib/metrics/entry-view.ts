import { type Entry, type RequestSource, formatSource } from '../serializer';

/** A stored entry as the dashboard's `entry.json` and the CLI's `inspect` show it. */
export interface EntryView {
  /** The key without the namespace. */
  key: string;
  kind: Entry['kind'];
  /** Size of the stored bytes. */
  size: number;
  createdAt: string;
  ageMs: number;
  expiresAt: string;
  fresh: boolean;
  /** Its lifetime when stored: the TTL it got (with `adaptiveTtl`, the current adaptive TTL). */
  ttlMs: number;
  /** Milliseconds until the store drops it (TTL plus any stale grace); -1 when unknown. */
  storeTtlMs: number;
  /** Responses: `GET /path?query` of the request it answered, when it was stored with one. */
  url?: string;
  source?: RequestSource;
  status?: number;
  headers?: Record<string, string | string[]>;
  bodyBytes?: number;
  bodyEncoding?: 'gzip';
  /** Responses: JSON parsed, text as text, anything else (or a gzip body) as `<n bytes>`. */
  body?: unknown;
  /** Values: the value. */
  value?: unknown;
}

/**
 * What a person wants to see of an entry: its times, the URL of the request it answered,
 * status, headers and a readable body.
 *
 * @example
 * ```ts
 * const view = viewEntry(decodeEntry(bytes), 'api:status:3f2a…', bytes.length, 5_000);
 * console.log(view.url, view.status);
 * ```
 */
export function viewEntry(entry: Entry, key: string, bytes: number, ttlMs: number, now = Date.now()): EntryView {
  const common: EntryView = {
    key,
    kind: entry.kind,
    size: bytes,
    createdAt: new Date(entry.createdAt).toISOString(),
    ageMs: now - entry.createdAt,
    expiresAt: new Date(entry.expiresAt).toISOString(),
    fresh: entry.expiresAt > now,
    ttlMs: entry.expiresAt - entry.createdAt,
    storeTtlMs: ttlMs,
  };
  if (entry.kind === 'value') return { ...common, value: entry.value };
  const type = String(entry.headers['content-type'] ?? '');
  let body: unknown = `<${entry.body.length} bytes${entry.bodyEncoding ? `, ${entry.bodyEncoding}` : ''}>`;
  if (!entry.bodyEncoding && /json/.test(type)) {
    try {
      body = JSON.parse(entry.body.toString('utf8'));
    } catch {
      body = entry.body.toString('utf8');
    }
  } else if (!entry.bodyEncoding && /^text\/|xml|javascript/.test(type)) {
    body = entry.body.toString('utf8');
  }
  const source = entry.source === undefined ? {} : { url: formatSource(entry.source), source: entry.source };
  return { ...common, ...source, status: entry.status, headers: entry.headers, bodyBytes: entry.body.length, bodyEncoding: entry.bodyEncoding, body };
}
