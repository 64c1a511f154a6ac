import { InvalidOptionError } from '../errors';
import { optionNames, plainObject, positiveInteger, rejectUnknownOptions } from '../validate';

/**
 * What was invalidated, as the purge hook hears it.
 *
 * @example
 * ```ts
 * const hook: PurgeHook = (request) => { if (request.kind === 'clear') console.log('everything'); };
 * ```
 */
export type PurgeKind = 'key' | 'pattern' | 'tags' | 'scope' | 'clear';

/**
 * One invalidation of this cache, handed to the `purge` hook of `createCache` after it was
 * applied here (or journaled). Names are without the cache's namespace, as the app wrote them.
 *
 * `surrogateKeys` are the names a CDN knows the affected answers by, as `cacheResponse({
 * surrogateKeys: true })` sends them in `Surrogate-Key` / `Cache-Tag`: the tags of a tag
 * invalidation, `{scope}:{id}` for one id of a scope, `{scope}` for a whole scope. Key,
 * pattern and clear invalidations have none: a CDN cannot match a cache key or a glob, so an
 * adapter either skips them or purges everything (see `purgeEverything` of the adapters).
 *
 * @example
 * ```ts
 * const requests: PurgeRequest[] = [];
 * const cache = createCache({ purge: (request) => { requests.push(request); } });
 * await cache.invalidateScope('character', 'char_1', { soft: true });
 * await cache.flushPurges();
 * // requests[0]: { kind: 'scope', scope: 'character', id: 'char_1', surrogateKeys: ['character:char_1'], soft: true }
 * ```
 */
export interface PurgeRequest {
  kind: PurgeKind;
  /** The invalidation was soft (mark stale): CDNs that can, mark their copies stale too. */
  soft: boolean;
  /** The surrogate keys to purge; empty for `key`, `pattern` and `clear`. */
  surrogateKeys: readonly string[];
  /** The key of a `key` invalidation. */
  key?: string;
  /** The Redis glob of a `pattern` invalidation. */
  pattern?: string;
  /** The tags of a `tags` invalidation. */
  tags?: readonly string[];
  /** The scope of a `scope` invalidation. */
  scope?: string;
  /** The (escaped) id of a `scope` invalidation of one id; absent for a whole scope. */
  id?: string;
  /**
   * Set on the one `clear` request that replaces a purge queue that overflowed (see
   * `PurgeOptions.maxQueued`): the purges it replaced were dropped.
   */
  overflowed?: boolean;
}

/**
 * Sends one invalidation to whatever sits in front of the app (a CDN, a reverse proxy). A
 * rejection (or a throw) is retried, see {@link PurgeOptions}. `fastlyPurge` and
 * `cloudflarePurge` build ready ones.
 *
 * @example
 * ```ts
 * const purge: PurgeHook = async (request) => {
 *   if (request.surrogateKeys.length > 0) console.log('purge', request.surrogateKeys.join(' '));
 * };
 * ```
 */
export type PurgeHook = (request: PurgeRequest) => Promise<void> | void;

/**
 * The `purge` option of `createCache` in full: the hook and its retry bounds. Purges run in the
 * background, one at a time and in order, from a bounded in-memory queue: an invalidation never
 * waits for the CDN and never fails because of it. A failed attempt emits an `error` event
 * (operation `purge`, a `PurgeError`) and is retried after `retryDelayMs`, doubled each time, up
 * to `attempts` attempts; then it is dropped. The queue lives in memory: purges still queued when
 * the process dies are lost (the CDN then serves its copy until its own TTL runs out).
 *
 * @example
 * ```ts
 * const cache = createCache({ purge: { hook: fastlyPurge({ serviceId, token }), attempts: 5, retryDelayMs: 200 } });
 * ```
 */
export interface PurgeOptions {
  /** The hook that sends each invalidation on. */
  hook: PurgeHook;
  /**
   * Attempts per purge, the first included (1: no retry).
   * @default 5
   */
  attempts?: number;
  /**
   * The wait before the first retry, in ms; doubled for each further retry, capped at 30 s.
   * @default 250
   */
  retryDelayMs?: number;
  /**
   * Purges that may wait in the queue. One more and the queue is replaced by a single `clear`
   * request (`overflowed: true`, see the adapters' `purgeEverything`) and an `error` is emitted:
   * a CDN that cannot keep up gets one purge-all at most, never an unbounded backlog.
   * @default 1000
   */
  maxQueued?: number;
}

/**
 * Defaults of {@link PurgeOptions}.
 *
 * @example
 * ```ts
 * createCache({ purge: { hook, attempts: DEFAULT_PURGE_OPTIONS.attempts * 2 } });
 * ```
 */
export const DEFAULT_PURGE_OPTIONS = Object.freeze({ attempts: 5, retryDelayMs: 250, maxQueued: 1000 });

/** @internal */
export type ResolvedPurgeOptions = Required<PurgeOptions>;

const PURGE_OPTION_NAMES = optionNames<PurgeOptions>({ hook: true, attempts: true, retryDelayMs: true, maxQueued: true });

/** Resolves the `purge` option of `createCache`. @internal */
export function resolvePurgeOptions(value: PurgeHook | PurgeOptions | undefined): ResolvedPurgeOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return { hook: value, ...DEFAULT_PURGE_OPTIONS };
  plainObject('purge', value);
  rejectUnknownOptions('createCache purge', value, PURGE_OPTION_NAMES, 'purge.');
  if (typeof value.hook !== 'function') throw new InvalidOptionError('purge.hook', 'expected a function (request) => Promise<void>, e.g. fastlyPurge({ serviceId, token })');
  return {
    hook: value.hook,
    attempts: positiveInteger('purge.attempts', value.attempts, DEFAULT_PURGE_OPTIONS.attempts),
    retryDelayMs: positiveInteger('purge.retryDelayMs', value.retryDelayMs, DEFAULT_PURGE_OPTIONS.retryDelayMs),
    maxQueued: positiveInteger('purge.maxQueued', value.maxQueued, DEFAULT_PURGE_OPTIONS.maxQueued),
  };
}

/** A short name of a purge request, for error messages. @internal */
export function describePurge(request: PurgeRequest): string {
  switch (request.kind) {
    case 'key':
      return `key ${request.key ?? ''}`;
    case 'pattern':
      return `pattern ${request.pattern ?? ''}`;
    case 'clear':
      return request.overflowed === true ? 'everything (the purge queue overflowed)' : 'everything';
    default:
      return `${request.kind} ${request.surrogateKeys.join(' ')}`;
  }
}
