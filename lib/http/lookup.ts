import type { Request } from 'express';
import type { Cache, Lookup } from '../engine/cache';
import type { ResponseEntry } from '../serializer';
import { READ_LATER } from '../stores/store';
import { isVarySpec, varyDigest } from './vary';

// The "lookup" stage: where a request's stored answer lives (following a Vary record) and what
// was found there.

/** Where the variant of `baseKey` selected by the request's values of `vary` lives. */
export function variantKey(baseKey: string, vary: readonly string[], req: Request): string {
  return `${baseKey}:v:${varyDigest(vary, req.headers)}`;
}

/**
 * An answer as the fill protocol passes it between requests: the entry, and which Vary variant
 * it is (the response's Vary names and the digest of the leader's values for them), so a
 * waiter takes it only when it would select the same variant.
 */
export interface Answer {
  entry: ResponseEntry;
  vary: readonly string[];
  variant: string;
  /** Whether it may be replayed as a cache hit (else it is an origin error shared with waiters). */
  storable: boolean;
}

/** The {@link Answer} `entry` gives, as the variant `req` selects. */
export function answerOf(entry: ResponseEntry, vary: readonly string[], req: Request, storable: boolean): Answer {
  return { entry, vary, variant: vary.length === 0 ? '' : varyDigest(vary, req.headers), storable };
}

/** Where a request's entry lives, and what was found there. */
export interface Located {
  /** The key of this request's variant when the URL's answers vary (and that is known), else the base key. */
  key: string;
  found: Lookup<ResponseEntry> | undefined;
  vary: readonly string[];
}

/** The answer a fresh stored entry gives this request; undefined when none was found or it is stale. */
export function freshAnswer(seen: Located, req: Request): Answer | undefined {
  return seen.found && !seen.found.stale ? answerOf(seen.found.entry, seen.vary, req, true) : undefined;
}

/** The request header names a Vary record under a base key lists; undefined when `found` is no record. */
function varyRecordOf(found: Lookup | undefined): readonly string[] | undefined {
  if (found === undefined || found.entry.kind !== 'value' || !isVarySpec(found.entry.value)) return undefined;
  return found.entry.value.vary;
}

/** A lookup under `key` as the middleware uses it: only a stored response answers. */
function located(key: string, found: Lookup | undefined, vary: readonly string[]): Located {
  return { key, found: found?.entry.kind === 'response' ? (found as Lookup<ResponseEntry>) : undefined, vary };
}

/**
 * The stored answer for this request (following a Vary record), fresh or within `graceMs` past
 * its lifetime.
 */
export async function locate(cache: Cache, baseKey: string, req: Request, graceMs: number): Promise<Located> {
  const found = await cache.peek(baseKey, graceMs);
  const vary = varyRecordOf(found);
  if (vary === undefined) return located(baseKey, found, []);
  const key = variantKey(baseKey, vary, req);
  return located(key, await cache.peek(key, graceMs), vary);
}

/** {@link locate} in the same tick, or `READ_LATER` when the store has to be awaited. */
export function locateNow(cache: Cache, baseKey: string, req: Request, graceMs: number): Located | typeof READ_LATER {
  const found = cache.peekNow(baseKey, graceMs);
  if (found === READ_LATER) return READ_LATER;
  const vary = varyRecordOf(found);
  if (vary === undefined) return located(baseKey, found, []);
  const key = variantKey(baseKey, vary, req);
  const variant = cache.peekNow(key, graceMs);
  return variant === READ_LATER ? READ_LATER : located(key, variant, vary);
}

/** The fresh answer for a fill's re-check: in this tick when the store can answer in it. */
export function findFresh(cache: Cache, baseKey: string, req: Request): Promise<Answer | undefined> {
  const now = locateNow(cache, baseKey, req, 0);
  if (now !== READ_LATER) return Promise.resolve(freshAnswer(now, req));
  return locate(cache, baseKey, req, 0).then((seen) => freshAnswer(seen, req));
}
