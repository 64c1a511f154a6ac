import { InvalidOptionError, InvalidationPendingError, StoreClosedError, UnsupportedOperationError } from '../errors';
import { escapeGlob, globToRegExp, scopeKeyPatterns } from '../keys';
import { type Store, canDeletePattern, canDeleteTags, canGuardWrites, canSoftInvalidate } from '../stores/store';
import { INVALIDATION_OPERATIONS, type Invalidation } from '../resilience/journal';
import { resolveScope, resolveTags } from '../validate';
import type { PurgeRequest } from '../cdn/purge';
import type { CacheEvents } from './events';
import { type EntryMatcher, InvalidationLog } from './invalidation-log';

/**
 * Options of every invalidation (`delete`, `invalidatePattern`, `invalidateTags`,
 * `invalidateScope`, `invalidate`, and the helpers built on them).
 *
 * @example
 * ```ts
 * await cache.invalidateTags(['character:1'], { soft: true });
 * await cache.invalidateScope('character', '1', { strict: true }); // rejects if the store is down
 * ```
 */
export interface InvalidateOptions {
  /**
   * Mark the entries stale instead of removing them: each reads as if it had expired at the
   * invalidation, so a caller with a stale-while-revalidate window (`staleWhileRevalidate` of
   * `wrap` or of the route) is answered at once from it while one refresh runs, and gets the
   * new value after that. Never served past the caller's window (counted from the
   * invalidation) nor past its grace; a caller without a window gets a miss, as after a hard
   * invalidation. Stores without soft marks (see `SoftCapable`) invalidate hard.
   * @default false
   */
  soft?: boolean;
  /**
   * Reject with an `InvalidationPendingError` when the store cannot take the invalidation now.
   * It is journaled either way (applied when the store answers again, with reads of the store
   * being misses until then); by default the call resolves with `pending: true` and an `error`
   * event is emitted, so a write handler never fails because the cache is down.
   * @default false
   */
  strict?: boolean;
}

/**
 * What an invalidation did: how many entries it removed (or marked) and whether part of it is
 * pending, journaled because the store could not take it now (see {@link InvalidateOptions.strict}).
 *
 * @example
 * ```ts
 * const { removed, pending } = await invalidateCharacterCache('char_1');
 * if (pending) log.warn('cache store down: the invalidation is journaled and applied on recovery');
 * ```
 */
export interface InvalidationResult {
  /** Entries removed (or marked stale) now; a pending part counts once it is applied. */
  removed: number;
  /** `true` when part of the invalidation waits in the journal for the store to come back. */
  pending: boolean;
}

/**
 * What one write invalidates, for {@link Invalidator.targets}. Every list is optional; ids in
 * `scopes` are escaped, `patterns` are raw Redis globs (escape ids in them with `escapeGlob`).
 */
export interface InvalidationTargets {
  /** Scopes as `'character'` (the whole scope) or `['character', 'char_123']` (one id). */
  scopes?: ReadonlyArray<string | readonly [scope: string, id?: string | number]>;
  /** Tags whose entries are removed. */
  tags?: readonly string[];
  /** Exact keys (without namespace) removed. */
  keys?: readonly string[];
  /** Redis globs (without namespace) whose matching keys are removed. */
  patterns?: readonly string[];
  /**
   * Mark every target stale instead of removing it (see {@link InvalidateOptions.soft}).
   * @default false
   */
  soft?: boolean;
}

/**
 * How long invalidation stamps stay in the store: a load that takes longer than this is guarded
 * against other processes' invalidations only by its own process's log.
 */
export const INVALIDATION_STAMP_TTL_MS = 10 * 60_000;

/**
 * How many `:`-separated levels of a key the cross-process guard tells apart. A pattern
 * invalidation stamps the literal prefix of its glob cut at a `:` (`character:1:*` stamps
 * `character:1:`); writes check every prefix of their key up to this depth, so deeper patterns
 * are stamped at this depth (refusing a few more writes, never fewer).
 */
const STAMP_PREFIX_DEPTH = 6;

/** One store operation of an invalidation, as the journal records it; names are full (namespace included). */
type Step = Invalidation;

/** An invalidation, planned: what it covers, what it stamps, what it asks of the store. */
interface Plan {
  /** The entries it touches, for the in-process write guard. */
  matches: EntryMatcher;
  /** The stamp names of the cross-process write guard. */
  stamps: readonly string[];
  steps: readonly Step[];
  /** The `delete` event's payload, less the count. */
  event: Omit<CacheEvents['delete'], 'count'>;
  soft: boolean;
  /** What the `purge` hook hears of it, less `soft`. */
  purge: Omit<PurgeRequest, 'soft'>;
}

/** What the invalidator needs from the cache it serves. */
export interface InvalidatorHost {
  store: Store;
  /** `''` or ending in `:`. */
  namespace: string;
  emitDelete(payload: CacheEvents['delete']): void;
  reportError(error: unknown, operation: string, key: string | undefined): void;
  /** Hands an applied (or journaled) invalidation to the `purge` hook's queue; absent without one. */
  purge?: (request: PurgeRequest) => void;
}

/**
 * The one invalidation path: keys, patterns, tags, scopes and `clear`, hard or soft, and the
 * helpers and `invalidateAfter` built on them, all become a {@link Plan} run by
 * {@link Invalidator.run}. It owns what every invalidation must do, in order:
 *
 * 1. record it in the in-process log (a load that began earlier is not stored afterwards),
 * 2. stamp it in the store (the same for loads in other processes, see `GuardCapable`),
 * 3. apply it, step by step (a failed step does not stop the others),
 * 4. report it: one `delete` event, and an `error` event when part of it is pending,
 * 5. hand it to the `purge` hook (queued, never awaited), so a CDN in front drops its copies too.
 *
 * A step the store cannot take now comes back as an `InvalidationPendingError` from the store
 * stack, which journaled it (see `ResilientStore`: the store then serves no read until the
 * journal is replayed on it); the call resolves `pending: true`, or rejects with `strict`.
 * @internal
 */
export class Invalidator {
  readonly log = new InvalidationLog();
  private readonly ns: string;
  private readonly nsGlob: string;

  constructor(private readonly host: InvalidatorHost) {
    this.ns = host.namespace;
    this.nsGlob = escapeGlob(host.namespace);
  }

  /** `key` and, when it is a response key, every Vary variant stored under it. */
  key(key: string, options: InvalidateOptions): Promise<InvalidationResult> {
    const fullKey = this.ns + key;
    const variants = `${fullKey}:v:`;
    return this.run(
      {
        matches: (candidate) => candidate === fullKey || candidate.startsWith(variants),
        stamps: [`k:${fullKey}`, this.prefixStamp(`${key}:`)],
        steps: [{ kind: 'delete', key: fullKey }, ...(canDeleteTags(this.host.store) ? [{ kind: 'tags' as const, tags: [this.variantTag(fullKey)] }] : [])],
        event: { key: fullKey },
        soft: softOf(options),
        purge: { kind: 'key', key, surrogateKeys: [] },
      },
      options,
    );
  }

  /** Every entry whose key (without namespace) matches the glob `pattern`. */
  pattern(pattern: string, options: InvalidateOptions): Promise<InvalidationResult> {
    if (typeof pattern !== 'string' || pattern === '') throw new InvalidOptionError('pattern', `expected a non-empty glob, got ${String(pattern)}`);
    const soft = softOf(options);
    this.need('pattern', 'delete by pattern');
    const fullPattern = this.nsGlob + pattern;
    const matcher = globToRegExp(fullPattern);
    return this.run({ matches: (fullKey) => matcher.test(fullKey), stamps: [this.patternStamp(pattern)], steps: [{ kind: 'pattern', pattern: fullPattern }], event: { pattern: fullPattern }, soft, purge: { kind: 'pattern', pattern, surrogateKeys: [] } }, options);
  }

  /** Every entry carrying one of `tags` (without namespace). */
  tags(tags: readonly string[], options: InvalidateOptions): Promise<InvalidationResult> {
    const soft = softOf(options);
    const given = resolveTags('tags', tags) ?? [];
    const fullTags = this.fullTags(given);
    if (fullTags.length === 0) return Promise.resolve({ removed: 0, pending: false });
    this.need('tags', 'invalidate tags');
    const wanted = new Set(fullTags);
    return this.run(
      {
        matches: (_key, entryTags) => entryTags !== undefined && entryTags.some((tag) => wanted.has(tag)),
        stamps: fullTags.map((tag) => `t:${tag}`),
        steps: [{ kind: 'tags', tags: fullTags }],
        event: { tags: fullTags },
        soft,
        purge: { kind: 'tags', tags: given, surrogateKeys: given },
      },
      options,
    );
  }

  /** A scope, or one id in it; see `Cache.invalidateScope`. */
  scope(scope: string, id: string | number | undefined, options: InvalidateOptions): Promise<InvalidationResult> {
    const resolved = resolveScope(scope, id);
    const soft = softOf(options);
    this.need('pattern', 'invalidate a scope');
    this.need('tags', 'invalidate a scope');
    const scopeGlob = escapeGlob(resolved.scope);
    if (resolved.id === undefined) {
      const keyPatterns = scopeKeyPatterns(scopeGlob).map((pattern) => this.nsGlob + pattern);
      const tagPattern = `${this.nsGlob}${scopeGlob}:*`;
      const keyMatchers = keyPatterns.map((pattern) => globToRegExp(pattern));
      const tagMatcher = globToRegExp(tagPattern);
      return this.run(
        {
          matches: (fullKey, tags) => keyMatchers.some((matcher) => matcher.test(fullKey)) || (tags !== undefined && tags.some((tag) => tagMatcher.test(tag))),
          // Writers check the prefixes of their keys, not of their tags: a tag pattern is stamped
          // as the whole namespace (a whole-scope invalidation refuses every write in flight).
          stamps: [this.prefixStamp('')],
          steps: [...keyPatterns.map((pattern) => ({ kind: 'pattern' as const, pattern })), { kind: 'tagPattern', pattern: tagPattern }],
          event: { scope: this.ns + resolved.scope },
          soft,
          purge: { kind: 'scope', scope: resolved.scope, surrogateKeys: [resolved.scope] },
        },
        options,
      );
    }
    const name = `${resolved.scope}:${resolved.id}`;
    const fullName = this.ns + name;
    const subKeys = `${this.nsGlob}${escapeGlob(name)}:*`;
    const subMatcher = globToRegExp(subKeys);
    return this.run(
      {
        matches: (fullKey, tags) => fullKey === fullName || subMatcher.test(fullKey) || (tags !== undefined && tags.includes(fullName)),
        stamps: [`k:${fullName}`, this.prefixStamp(`${name}:`), `t:${fullName}`],
        steps: [
          { kind: 'delete', key: fullName },
          { kind: 'pattern', pattern: subKeys },
          { kind: 'tags', tags: [fullName] },
        ],
        event: { scope: fullName },
        soft,
        purge: { kind: 'scope', scope: resolved.scope, id: resolved.id, surrogateKeys: [name] },
      },
      options,
    );
  }

  /** Every target of `targets`, as one invalidation per target, totalled. */
  async targets(targets: InvalidationTargets, options: InvalidateOptions): Promise<InvalidationResult> {
    const opts: InvalidateOptions = { soft: targets.soft ?? options.soft, strict: options.strict };
    const runs: Array<() => Promise<InvalidationResult>> = [];
    for (const scope of targets.scopes ?? []) runs.push(() => (typeof scope === 'string' ? this.scope(scope, undefined, opts) : this.scope(scope[0], scope[1], opts)));
    const tags = targets.tags ?? [];
    if (tags.length > 0) runs.push(() => this.tags(tags, opts));
    for (const key of targets.keys ?? []) runs.push(() => this.key(key, opts));
    for (const pattern of targets.patterns ?? []) runs.push(() => this.pattern(pattern, opts));
    const total: InvalidationResult = { removed: 0, pending: false };
    let failure: { error: unknown } | undefined;
    // One failing target does not stop the others: each left undone would be stale data.
    for (const run of runs) {
      try {
        const result = await run();
        total.removed += result.removed;
        total.pending ||= result.pending;
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    return total;
  }

  /** Everything in the namespace (or, without one, everything the store holds). */
  clear(options: InvalidateOptions = {}): Promise<InvalidationResult> {
    const everything = `${this.nsGlob}*`;
    if (this.ns !== '') this.need('pattern', 'clear a namespace');
    if (this.ns !== '') this.need('tags', 'clear a namespace');
    const steps: Step[] = this.ns === '' ? [{ kind: 'clear' }] : [{ kind: 'pattern', pattern: everything }, { kind: 'tagPattern', pattern: everything }];
    // Without a namespace the store's clear takes the stamps too: stamp again after it, so
    // writes that loaded before the clear are still refused from here on.
    return this.run({ matches: () => true, stamps: [this.prefixStamp('')], steps, event: { pattern: everything }, soft: false, purge: { kind: 'clear', surrogateKeys: [] } }, options, this.ns === '');
  }

  /**
   * Records another instance's write or invalidation (heard on the bus) in the in-process guard,
   * so a load in flight here cannot store what the other instance just replaced or removed.
   */
  remote(names: { keys?: readonly string[]; patterns?: readonly string[]; tags?: readonly string[]; tagPatterns?: readonly string[]; clear?: boolean }): void {
    if (names.clear === true) {
      this.log.record(() => true);
      return;
    }
    const keys = new Set(names.keys);
    const patterns = (names.patterns ?? []).map((pattern) => globToRegExp(pattern));
    const tags = new Set(names.tags);
    const tagPatterns = (names.tagPatterns ?? []).map((pattern) => globToRegExp(pattern));
    this.log.record(
      (fullKey, fullTags) =>
        keys.has(fullKey) ||
        patterns.some((pattern) => pattern.test(fullKey)) ||
        (fullTags !== undefined && fullTags.some((tag) => tags.has(tag) || tagPatterns.some((pattern) => pattern.test(tag)))),
    );
  }

  /** The stamps a write checks: its key, its tags, and every prefix of its key. */
  guardNames(fullKey: string, fullTags: readonly string[] | undefined): string[] {
    const names = [`k:${fullKey}`];
    for (const tag of fullTags ?? []) names.push(`t:${tag}`);
    const key = fullKey.slice(this.ns.length);
    names.push(`p:${this.ns}`);
    let at = -1;
    for (let depth = 0; depth < STAMP_PREFIX_DEPTH; depth++) {
      at = key.indexOf(':', at + 1);
      if (at === -1) break;
      names.push(`p:${this.ns}${key.slice(0, at + 1)}`);
    }
    return names;
  }

  /**
   * The internal tag of a response key's Vary variants (`{key}:v:{digest}`, see
   * `cacheResponse`), so invalidating the key finds them through an index instead of a keyspace
   * scan. It starts with the namespace, so `clear()` of a namespace removes its indexes too.
   */
  variantTag(fullBaseKey: string): string {
    return `${this.ns}__variants__:${fullBaseKey.slice(this.ns.length)}`;
  }

  /** Tags carry the namespace like keys do, so two apps sharing a Redis never share a tag. */
  fullTags(tags: readonly string[]): readonly string[] {
    return this.ns === '' ? tags : tags.map((tag) => this.ns + tag);
  }

  // -------------------------------------------------------------------------------------------

  /** Runs a plan: log, stamps, steps, events; see the class description. */
  private async run(plan: Plan, options: InvalidateOptions, stampAfter = false): Promise<InvalidationResult> {
    const strict = strictOf(options);
    const at = this.log.record(plan.matches);
    await this.stamp(plan.stamps, at);
    let removed = 0;
    let pending: InvalidationPendingError | undefined;
    for (const step of plan.steps) {
      try {
        removed += await this.apply(step, plan.soft, at);
      } catch (error) {
        if (!(error instanceof InvalidationPendingError)) {
          // Not journaled by the stack (a closed store, a store without a resilience layer):
          // the caller must know.
          if (!(error instanceof StoreClosedError)) this.host.reportError(error, operationOf(step), keyOf(step));
          throw error;
        }
        removed += error.removed;
        pending ??= error;
      }
    }
    if (stampAfter) await this.stamp(plan.stamps, at);
    this.host.emitDelete({ ...plan.event, count: removed });
    // After it was applied (or journaled) here; a thrown step above means it was neither.
    this.host.purge?.({ ...plan.purge, soft: plan.soft });
    if (pending === undefined) return { removed, pending: false };
    this.host.reportError(pending, operationOf(plan.steps[0] as Step), keyOf(plan.steps[0] as Step));
    if (strict) throw pending;
    return { removed, pending: true };
  }

  private async apply(step: Step, soft: boolean, at: number): Promise<number> {
    const store = this.host.store;
    const marks = soft && canSoftInvalidate(store) ? store : undefined;
    switch (step.kind) {
      case 'delete':
        if (marks) return (await marks.softDelete(step.key, at)) ? 1 : 0;
        return (await store.delete(step.key)) ? 1 : 0;
      case 'pattern':
        if (marks) return marks.softDeletePattern(step.pattern, at);
        return canDeletePattern(store) ? store.deletePattern(step.pattern) : 0;
      case 'tags':
        if (marks) return marks.softDeleteTags(step.tags, at);
        return canDeleteTags(store) ? store.deleteTags(step.tags) : 0;
      case 'tagPattern':
        if (marks) return marks.softDeleteTagPattern(step.pattern, at);
        return canDeleteTags(store) ? store.deleteTagPattern(step.pattern) : 0;
      case 'clear':
        await store.clear();
        return 0;
    }
  }

  /** A configuration error, thrown before anything is recorded: the store lacks a capability. */
  private need(capability: 'pattern' | 'tags', operation: string): void {
    const store = this.host.store;
    if (capability === 'pattern' && !canDeletePattern(store)) throw new UnsupportedOperationError(store.name, operation, 'PatternCapable');
    if (capability === 'tags' && !canDeleteTags(store)) throw new UnsupportedOperationError(store.name, operation, 'TagCapable');
  }

  /**
   * Stamps what an invalidation covers in the store, before it removes anything, so a load
   * started earlier in another process cannot write back afterwards (see `GuardCapable`). A
   * failed stamp does not stop the invalidation: its steps decide whether it is pending.
   */
  private async stamp(names: readonly string[], at: number): Promise<void> {
    const store = this.host.store;
    if (!canGuardWrites(store)) return;
    try {
      await store.stampInvalidations(names, at, INVALIDATION_STAMP_TTL_MS);
    } catch {
      // Not reported on its own: the steps go to the same store right after.
    }
  }

  /** The stamp of a key prefix (without namespace, `''` or ending in `:`), cut at the guard's depth. */
  private prefixStamp(prefix: string): string {
    let cut = 0;
    for (let depth = 0; depth < STAMP_PREFIX_DEPTH; depth++) {
      const at = prefix.indexOf(':', cut);
      if (at === -1) break;
      cut = at + 1;
    }
    return `p:${this.ns}${prefix.slice(0, cut)}`;
  }

  /**
   * What a pattern invalidation stamps: the exact key for a glob without wildcards, else the
   * literal text before its first glob character, cut back to a `:` (an over-approximation:
   * `char*` stamps the whole namespace, `character:1:*` only `character:1:`).
   */
  private patternStamp(pattern: string): string {
    const meta = pattern.search(/[*?[\\]/);
    if (meta === -1) return `k:${this.ns}${pattern}`;
    const literal = pattern.slice(0, meta);
    return this.prefixStamp(literal.slice(0, literal.lastIndexOf(':') + 1));
  }
}

function operationOf(step: Step): string {
  return INVALIDATION_OPERATIONS[step.kind];
}

function keyOf(step: Step): string | undefined {
  return step.kind === 'delete' ? step.key : step.kind === 'pattern' || step.kind === 'tagPattern' ? step.pattern : undefined;
}

function softOf(options: InvalidateOptions): boolean {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object like { soft: true }');
  const soft = options.soft ?? false;
  if (typeof soft !== 'boolean') throw new InvalidOptionError('soft', `expected a boolean, got ${String(soft)}`);
  return soft;
}

function strictOf(options: InvalidateOptions): boolean {
  const strict = options.strict ?? false;
  if (typeof strict !== 'boolean') throw new InvalidOptionError('strict', `expected a boolean, got ${String(strict)}`);
  return strict;
}
