import { InvalidOptionError } from '../errors';
import { optionalBoolean, positiveInteger } from '../validate';
import type { PurgeRequest } from './purge';

/**
 * Options every ready purge adapter shares.
 *
 * @example
 * ```ts
 * fastlyPurge({ serviceId, token, purgeEverything: true, timeoutMs: 2000 });
 * ```
 */
export interface PurgeAdapterOptions {
  /**
   * Purge everything on the CDN for invalidations it cannot target: `clear()`, key and pattern
   * invalidations (a CDN cannot match a cache key or a glob) and an overflowed purge queue.
   * Off, those are not sent on, and the CDN's copies live to their own TTL.
   * @default false
   */
  purgeEverything?: boolean;
  /**
   * How long one API call may take, in ms; past it the attempt fails and is retried.
   * @default 5000
   */
  timeoutMs?: number;
}

/** @internal */
export interface ResolvedAdapterOptions {
  apiUrl: string;
  purgeEverything: boolean;
  timeoutMs: number;
}

/** Checks the options shared by the adapters; `apiUrl` without a trailing slash. @internal */
export function resolveAdapterOptions(owner: string, options: PurgeAdapterOptions & { apiUrl?: string }, defaultApiUrl: string): ResolvedAdapterOptions {
  const apiUrl = options.apiUrl ?? defaultApiUrl;
  let parsed: URL | undefined;
  try {
    parsed = typeof apiUrl === 'string' ? new URL(apiUrl) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new InvalidOptionError(`${owner}.apiUrl`, `expected an http(s) URL, got ${String(apiUrl)}`);
  }
  return {
    apiUrl: apiUrl.replace(/\/+$/, ''),
    purgeEverything: optionalBoolean(`${owner}.purgeEverything`, options.purgeEverything, false),
    timeoutMs: positiveInteger(`${owner}.timeoutMs`, options.timeoutMs, 5_000),
  };
}

/** A required non-empty string option without line breaks (it goes into a URL or a header). @internal */
export function requiredToken(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || /[\r\n]/.test(value)) throw new InvalidOptionError(option, 'expected a non-empty string');
  return value;
}

/** Whether an adapter sends a request it cannot target as "purge everything". @internal */
export function purgesEverything(request: PurgeRequest, options: ResolvedAdapterOptions): boolean {
  return options.purgeEverything && (request.kind === 'clear' || request.kind === 'key' || request.kind === 'pattern');
}

/** `list` cut into chunks of at most `size`. @internal */
export function batches<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * POSTs `body` as JSON and returns the parsed answer; throws on a network error, a timeout or a
 * status outside 2xx, naming the status and the start of the answer.
 * @internal
 */
export async function postJson(url: string, headers: Record<string, string>, body: unknown, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}
