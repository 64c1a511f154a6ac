import { RateLimitedError } from '../errors';
import type { Entry } from '../serializer';
import type { Ttl } from '../ttl';
import type { Entries } from './entries';
import type { RefreshOutcome, RefreshTrigger, TypedEmitter } from './events';
import type { FillProtocol, FillResult, FillSpec } from './fill';
import { type AdaptiveTtlOptions, nextAdaptiveTtl, resolveAdaptiveTtl } from '../refresh/adaptive';
import { type FreshnessOptions, refreshAheadDue, refreshAheadFraction, resolveFreshness } from './options';

/** Options of {@link Cache.wrap}; `T` is the loader's result. */
export interface WrapOptions<T = unknown> extends FreshnessOptions {
  /** Seconds or a profile name; defaults to the cache's `defaultTtl`. */
  ttl?: Ttl;
  /**
   * Store a `null` result. `undefined` is never stored.
   * @default false
   */
  cacheNull?: boolean;
  /**
   * Decides whether a loaded value is stored: return `false` to hand it to the callers without
   * caching it (for example an empty search result).
   * @default every value except `undefined` (and `null`, see `cacheNull`) is stored
   */
  condition?: (value: T) => boolean;
  /** Tags to attach: a list, or a function of the loaded value; see invalidateTags. */
  tags?: readonly string[] | ((value: T) => readonly string[]);
  /**
   * When a fresh entry has less than this fraction of its TTL left, it is returned and refreshed
   * in the background, so hot keys never expire. Between 0 and 1.
   * @default 0 (off)
   */
  refreshAhead?: number;
  /**
   * Lengthens the TTL while the loader keeps returning the same value (×2 per unchanged
   * refresh, up to `max`) and drops it to `min` when the value changes. Needs a previous entry
   * to compare with: pair it with `refreshAhead` or `staleWhileRevalidate`.
   * @default none: every entry lives `ttl`
   */
  adaptiveTtl?: AdaptiveTtlOptions;
}

/** What {@link wrapValue} needs from the cache. @internal */
export interface WrapHost {
  namespace: string;
  fills: FillProtocol;
  entries: Entries;
  events: TypedEmitter;
  fullTags(tags: readonly string[] | undefined): readonly string[] | undefined;
  resolveTtl(ttl: Ttl | undefined): number;
  reportError(error: unknown, operation: string, key: string | undefined): void;
}

/**
 * `Cache.wrap`: the cached value of `key`, or `loader`'s, stored through the fill protocol.
 * @internal
 */
export async function wrapValue<T>(host: WrapHost, key: string, loader: () => T | Promise<T>, options: WrapOptions<T>): Promise<T> {
  const fullKey = host.namespace + key;
  // Tags computed from the value are only known after loading; the static ones count for joining.
  const staticTags = typeof options.tags === 'function' ? undefined : host.fullTags(options.tags);
  const ttlSeconds = host.resolveTtl(options.ttl);
  const freshness = resolveFreshness(options);
  const refreshAhead = refreshAheadFraction(options.refreshAhead);
  const adaptive = resolveAdaptiveTtl(options.adaptiveTtl);
  const found = await host.entries.read(fullKey, freshness.graceMs);
  const entry = found?.entry.kind === 'value' ? found.entry : undefined;
  const stale = entry && found?.stale ? { value: entry.value as T, expiresAt: entry.expiresAt } : undefined;
  const spec: FillSpec<T> = {
    key: fullKey,
    tags: staticTags,
    stale,
    freshness,
    find: async () => {
      const seen = await host.entries.read(fullKey, 0);
      return seen?.entry.kind === 'value' && !seen.stale ? (seen.entry.value as T) : undefined;
    },
    load: async () => {
      const value = await loader();
      const store = value !== undefined && (value !== null || options.cacheNull === true) && (options.condition?.(value) ?? true);
      if (!store) return { kind: 'value', value, share: true };
      const tags = typeof options.tags === 'function' ? host.fullTags(options.tags(value)) : staticTags;
      const now = Date.now();
      const lifetime = adaptive === undefined ? ttlSeconds : nextAdaptiveTtl(adaptive, ttlSeconds, entry && (entry.expiresAt - entry.createdAt) / 1000, entry !== undefined && sameValue(entry.value, value));
      const written: Entry = { kind: 'value', value, createdAt: now, expiresAt: now + lifetime * 1000 };
      return { kind: 'value', value, share: true, writes: [{ key: fullKey, entry: written, ttlSeconds: lifetime, tags, graceMs: freshness.graceMs }] };
    },
  };
  if (entry && !found?.stale) {
    host.events.emit('hit', { key: fullKey });
    if (refreshAhead > 0 && refreshAheadDue(entry.createdAt, entry.expiresAt, refreshAhead)) refreshInBackground(host, spec, 'ahead');
    return entry.value as T;
  }
  const revalidating = host.fills.revalidating(stale, freshness);
  if (revalidating) {
    host.events.emit('stale', { key: fullKey, reason: 'revalidate' });
    refreshInBackground(host, spec, 'stale');
    return revalidating.value;
  }
  return settleWrap(host, fullKey, await host.fills.run(spec));
}

/** Whether a loaded value equals the stored one (as stored: JSON), for `adaptiveTtl`. */
function sameValue(stored: unknown, loaded: unknown): boolean {
  try {
    return JSON.stringify(stored) === JSON.stringify(loaded);
  } catch {
    return false;
  }
}

/** A background refresh (stale-while-revalidate, refresh-ahead), unless one is running; ends in a `refresh` event. */
function refreshInBackground<T>(host: WrapHost, spec: FillSpec<T>, trigger: RefreshTrigger): void {
  if (host.fills.inFlight(spec.key)) return;
  const started = performance.now();
  void host.fills.run({ ...spec, refresh: true }).then((result) => {
    if (result.kind === 'error') host.reportError(result.error, 'refresh', spec.key);
    host.events.emit('refresh', { key: spec.key, trigger, outcome: refreshOutcome(result), durationMs: performance.now() - started });
  });
}

/** What a background fill's result means as a `refresh` event's outcome. @internal */
export function refreshOutcome(result: FillResult<unknown>): RefreshOutcome {
  switch (result.kind) {
    case 'loaded':
      return result.stored ? 'stored' : 'not-stored';
    case 'error':
    case 'served-stale':
      return 'failed';
    case 'stale':
      return result.reason === 'error' ? 'failed' : 'skipped';
    default:
      return 'skipped';
  }
}

/** The answer of a `wrap` call from its fill, with its one outcome event. */
function settleWrap<T>(host: WrapHost, fullKey: string, result: FillResult<T>): T {
  switch (result.kind) {
    case 'loaded':
      host.events.emit('miss', { key: fullKey });
      return result.value;
    case 'shared':
    case 'mismatch':
      host.events.emit('hit', { key: fullKey });
      return result.value;
    case 'stale':
      host.events.emit('stale', { key: fullKey, reason: result.reason });
      return result.value;
    case 'limited':
      host.events.emit('limited', { key: fullKey, retryAfterMs: result.retryAfterMs });
      throw new RateLimitedError(result.limiter, result.retryAfterMs);
    case 'error':
      host.events.emit('miss', { key: fullKey });
      throw result.error;
    case 'served-stale':
      // Only HTTP loaders serve stale themselves; a value loader never does.
      throw new Error('unreachable: a wrap loader served stale');
  }
}
