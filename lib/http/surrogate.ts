import type { Request, Response } from 'express';
import type { WarningCode } from '../engine/events';
import type { SurrogateHeaderChoice } from './options';
import { routeTags } from './scope-tags';
import type { RouteScoping } from './scope-tags';
import { pathTag, requestPath } from './unsafe';

/**
 * Size limits of the CDNs' tag headers, in bytes: Fastly takes surrogate keys of up to 1 KB in a
 * `Surrogate-Key` of up to 16 KB; Cloudflare a `Cache-Tag` of up to 16 KB.
 *
 * @example
 * ```ts
 * const fits = (tag: string) => tag.length <= SURROGATE_LIMITS.keyBytes;
 * ```
 */
export const SURROGATE_LIMITS = Object.freeze({ keyBytes: 1024, headerBytes: 16 * 1024 });


/** A key left out of a header, and why. */
export interface DroppedKey {
  header: 'Surrogate-Key' | 'Cache-Tag';
  key: string;
  code: WarningCode;
}

/** What {@link surrogateHeaders} built. */
export interface SurrogateHeaderValues {
  surrogateKey?: string;
  cacheTag?: string;
  dropped: DroppedKey[];
}

// Visible ASCII only: a header value must not carry controls, and the separators are spaces
// (Surrogate-Key) and commas (Cache-Tag).
const SURROGATE_KEY = /^[\x21-\x7e]+$/;
const CACHE_TAG = /^[\x21-\x2b\x2d-\x7e]+$/;

function join(keys: readonly string[], header: DroppedKey['header'], separator: string, valid: RegExp, keyLimit: number, dropped: DroppedKey[]): string | undefined {
  const kept: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    if (!valid.test(key)) {
      dropped.push({ header, key, code: 'surrogate-key-invalid' });
      continue;
    }
    // Visible ASCII: one byte per character.
    if (key.length > keyLimit) {
      dropped.push({ header, key, code: 'surrogate-key-too-long' });
      continue;
    }
    const added = key.length + (kept.length === 0 ? 0 : separator.length);
    if (bytes + added > SURROGATE_LIMITS.headerBytes) {
      dropped.push({ header, key, code: 'surrogate-header-full' });
      continue;
    }
    kept.push(key);
    bytes += added;
  }
  return kept.length === 0 ? undefined : kept.join(separator);
}

/**
 * The `Surrogate-Key` and `Cache-Tag` values for `keys`, in order, within the CDNs' limits
 * ({@link SURROGATE_LIMITS}): a key with a character the header cannot carry, a key over 1 KB
 * (`Surrogate-Key`), or one that would take the header past 16 KB is left out and listed in
 * `dropped`; the header is never cut in the middle of a key.
 *
 * @example
 * ```ts
 * surrogateHeaders(['character', 'character:1'], { surrogateKey: true, cacheTag: true });
 * // { surrogateKey: 'character character:1', cacheTag: 'character,character:1', dropped: [] }
 * ```
 */
export function surrogateHeaders(keys: readonly string[], choice: SurrogateHeaderChoice): SurrogateHeaderValues {
  const dropped: DroppedKey[] = [];
  const values: SurrogateHeaderValues = { dropped };
  if (choice.surrogateKey) values.surrogateKey = join(keys, 'Surrogate-Key', ' ', SURROGATE_KEY, SURROGATE_LIMITS.keyBytes, dropped);
  if (choice.cacheTag) values.cacheTag = join(keys, 'Cache-Tag', ',', CACHE_TAG, SURROGATE_LIMITS.headerBytes, dropped);
  return values;
}

/**
 * The surrogate keys of a route answer: its scope (`character`, what a whole-scope invalidation
 * purges), its scope tags (`character:1`), its own `tags(req)`, and an opaque key of its path
 * (what a write through the cache to that path purges). A throwing `tags` only loses its own.
 *
 * @example
 * ```ts
 * surrogateKeysOf(opts, req); // ['character', 'character:1', 'leaderboard', '__path__:5b4c...']
 * ```
 */
export function surrogateKeysOf(opts: { tags: ((req: Request) => readonly string[]) | undefined; scoping: RouteScoping }, req: Request): string[] {
  // Scope keys first: what helpers purge most stays within the header's size.
  const keys: string[] = [];
  if (opts.scoping.scope !== undefined) keys.push(opts.scoping.scope);
  let own: readonly string[] | undefined;
  try {
    keys.push(...(routeTags({ tags: undefined, scoping: opts.scoping }, req) ?? []));
    own = opts.tags?.(req);
  } catch {
    // A throwing `scopeParam` or `tags`: the answer is not stored either (`tags-threw`); the
    // keys found so far and the path key still go out, and the request never fails for it.
  }
  if (Array.isArray(own)) for (const tag of own) if (typeof tag === 'string' && tag !== '') keys.push(tag);
  keys.push(pathTag(requestPath(req)));
  return [...new Set(keys)];
}

/**
 * Puts a route's surrogate keys on `res` before its answer (a hit or the handler's) goes out; a
 * header the handler sets itself replaces it. Calls `warn` for each key left out.
 * @internal
 */
export function setSurrogateHeaders(
  res: Response,
  req: Request,
  opts: { tags: ((req: Request) => readonly string[]) | undefined; scoping: RouteScoping; surrogate: SurrogateHeaderChoice | undefined },
  warn: (dropped: DroppedKey) => void,
): void {
  const choice = opts.surrogate;
  if (choice === undefined) return;
  const values = surrogateHeaders(surrogateKeysOf(opts, req), choice);
  if (values.surrogateKey !== undefined) res.setHeader('Surrogate-Key', values.surrogateKey);
  if (values.cacheTag !== undefined) res.setHeader('Cache-Tag', values.cacheTag);
  for (const dropped of values.dropped) warn(dropped);
}
