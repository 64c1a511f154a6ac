import { traceFill } from '../metrics/tracing';
import { LocalRateLimiter } from '../stores/local-coordination';
import { type LockCapable, type Store, canLock, canRateLimit } from '../stores/store';
import type { StaleReason } from './events';
import type { InvalidationLog } from './invalidation-log';
import type { ResolvedCacheOptions, ResolvedFreshness } from './options';
import { DEFAULT_LOCK_OPTIONS } from './options';
import type { Entry } from '../serializer';

/**
 * The one stale rule, for `wrap`, the decorators and `cacheResponse` alike: an entry that
 * stopped being fresh at `expiresAt` (its TTL, or a soft invalidation's mark) may stand in
 * while a refresh runs (`'revalidate'`) only within `staleWhileRevalidate` after it, and for an
 * origin error only within `staleIfError` after it. Each window is measured on its own: the
 * grace (how long the store keeps the entry, the larger of the two) says only that the entry
 * can still be read, never that it may be served.
 * @internal
 */
export function mayServeStale(expiresAt: number, freshness: Pick<ResolvedFreshness, 'staleWhileRevalidateMs' | 'staleIfErrorMs'>, why: 'revalidate' | 'error', now = Date.now()): boolean {
  return now < expiresAt + (why === 'revalidate' ? freshness.staleWhileRevalidateMs : freshness.staleIfErrorMs);
}

/** A stale entry found on the way in, kept by the store within the grace window. */
export interface StaleCandidate<V> {
  value: V;
  /** When it stopped being fresh, epoch ms. */
  expiresAt: number;
}

/** One entry to write once a load succeeds; keys and tags are full (namespaced). */
export interface EntryWrite {
  key: string;
  entry: Entry;
  ttlSeconds: number;
  tags?: readonly string[] | undefined;
  graceMs: number;
}

/** What a loader produced. */
export type Loaded<V> =
  | {
      kind: 'value';
      value: V;
      /** The entries to store (empty or absent: not stored). Written under the generation guard. */
      writes?: readonly EntryWrite[];
      /**
       * Whether callers waiting on this fill may take `value` as their own answer. A value that
       * is stored is always shareable; an error answer (a 5xx) may be shared without being
       * stored; an answer for one user (a `Set-Cookie`) never is.
       */
      share: boolean;
    }
  /** The loader served the stale candidate itself (stale-if-error at the HTTP layer). */
  | { kind: 'stale' };

/** What the fill protocol offers a loader while it runs. */
export interface LoadContext<V> {
  /** The stale candidate when stale-if-error allows serving it now, else `undefined`. */
  staleIfError(): V | undefined;
}

/** How a front-end asks for a fill: what to look for, how to load, who may take what. */
export interface FillSpec<V> {
  /** The full key this fill is for: in-process flights and the cross-process lock are per key. */
  key: string;
  /** The name events use (the middleware's endpoint); else the key. */
  endpoint?: string | undefined;
  /** The name the default limiter uses when it differs from `endpoint` (the middleware's key endpoint); else `endpoint`. */
  limitAs?: string | undefined;
  /** Tags known before loading: an invalidation of one of them forbids joining an older fill. */
  tags?: readonly string[] | undefined;
  /** A stale entry within grace, found on the way in. */
  stale?: StaleCandidate<V> | undefined;
  freshness: ResolvedFreshness;
  /** A forced refresh: never joins, never accepts what another fill stored. */
  refresh?: boolean;
  /** Looks for a fresh value another instance stored (polled while waiting for its lock). */
  find(): Promise<V | undefined>;
  /** Calls the origin. */
  load(context: LoadContext<V>): Promise<Loaded<V>>;
  /** Whether another fill's value may answer this caller (for example the same Vary variant). */
  accepts?(value: V): boolean;
}

/** How a fill ended for one caller. */
export type FillResult<V> =
  /** This caller called the origin; `stored` says whether the answer was written. */
  | { kind: 'loaded'; value: V; stored: boolean; durationMs: number }
  /** The answer of another fill (in this process, or stored by another instance). */
  | { kind: 'shared'; value: V }
  /** Another fill's answer that this caller may not take (`accepts` said no). */
  | { kind: 'mismatch'; value: V }
  /** Serve the stale candidate. */
  | { kind: 'stale'; value: V; reason: StaleReason }
  /** The loader served the stale candidate itself. */
  | { kind: 'served-stale' }
  /** The origin limiter refused the call and nothing stale could stand in. */
  | { kind: 'limited'; retryAfterMs: number; limiter: string }
  /** The loader threw (here or in the fill this caller joined). */
  | { kind: 'error'; error: unknown };

/** What waiters of a flight receive. */
type Outcome<V> =
  | { kind: 'value'; value: V }
  | { kind: 'unshared' }
  | { kind: 'error'; error: unknown }
  | { kind: 'stale'; reason: StaleReason }
  | { kind: 'limited'; retryAfterMs: number; limiter: string }
  /** The fill was taken over by a waiter after the leader overran its lock's TTL: wait on the new one. */
  | { kind: 'handoff' };

class Flight<V> {
  readonly done: Promise<Outcome<V>>;
  // Assigned by the promise executor, which runs synchronously in the constructor.
  private resolve!: (outcome: Outcome<V>) => void;
  private settled = false;
  private filling = false;
  // Created by the first waiter: most fills (every miss without concurrent callers) have none.
  private armers: Set<() => void> | undefined;

  constructor(readonly generation: number) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  settle(outcome: Outcome<V>): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }

  /**
   * The leader calls the origin now: waiters' time starts counting. Before, the leader may be
   * waiting (itself bounded) on another instance's lock, and waiters timing out alongside it
   * would all call the origin the moment a lock holder died.
   */
  startFilling(): void {
    if (this.filling) return;
    this.filling = true;
    if (this.armers === undefined) return;
    for (const arm of this.armers) arm();
    this.armers.clear();
  }

  /** The outcome, or `undefined` when the leader overran `timeoutMs` after it started filling. */
  wait(timeoutMs: number): Promise<Outcome<V> | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let arm: () => void = () => undefined;
    const timeout = new Promise<undefined>((resolve) => {
      arm = () => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      };
    });
    if (this.filling) arm();
    else (this.armers ??= new Set()).add(arm);
    return Promise.race([this.done, timeout]).finally(() => {
      clearTimeout(timer);
      this.armers?.delete(arm);
    });
  }
}

/** What the fill protocol needs from the cache that owns it. @internal */
export interface FillHost {
  readonly store: Store;
  readonly namespace: string;
  readonly invalidations: InvalidationLog;
  /**
   * Writes under the generation guard: `stored`, `invalidated` (an invalidation, here or in
   * another process, overtook the load) or `failed` (the store).
   */
  write(write: EntryWrite, generation: number): Promise<'stored' | 'invalidated' | 'failed'>;
  reportError(error: unknown, operation: string, key: string | undefined): void;
}

/** A held fill lock. */
interface FillLock {
  acquired: boolean;
  /** Taken in the store, where other processes see it. */
  shared: boolean;
  release(): Promise<void>;
}

const FREE_LOCK: FillLock = Object.freeze({ acquired: true, shared: false, release: async () => undefined });
// How many released locks are remembered (see FillProtocol.released); older ones are forgotten.
const RELEASED_MEMORY = 10_000;
const HELD_ELSEWHERE: FillLock = Object.freeze({ acquired: false, shared: true, release: async () => undefined });

/**
 * The one fill protocol every front-end goes through (`Cache.wrap`, the decorators,
 * `getCachedQuery` and `cacheResponse`): single flight in the process, the cross-process fill
 * lock, waiting for another instance's fill, the re-check after taking the lock, the origin
 * limiter, the stale-while-revalidate and stale-if-error decisions, the generation-guarded
 * write and the `fill` timing.
 *
 * Coalescing never depends on the store: callers joining a fill in this process receive the
 * leader's value in memory (when it is shareable and `accepts` takes it), so it holds with the
 * store down, slow or refusing writes.
 * @internal
 */
export class FillProtocol {
  private readonly flights = new Map<string, Flight<unknown>>();
  private readonly localRates = new LocalRateLimiter();
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly leaderTimeoutMs: number;
  /**
   * The locks this process released, by lock key, until they would have expired. A release can
   * be lost without anyone being told (the store timed out, or the breaker was open and the
   * lock "expires there by itself"), which left a lock nobody holds: every request for its key
   * then waited `waitMs` after the store came back. When this process finds such a lock held,
   * it releases it again with its own token (a no-op if another owner took it since) and takes it.
   */
  private readonly released = new Map<string, { token: string; expiresAt: number }>();
  /**
   * Lock keys whose acquisition failed (timed out), until a lock taken then would expire. A
   * command that timed out here may still run in the store when it answers again (Redis executes
   * what was queued on the socket), leaving a lock whose token nobody has: while that may be so,
   * a held lock on such a key is not waited for (the fill goes ahead; this process still
   * coalesces its own callers).
   */
  private readonly orphans = new Map<string, number>();

  constructor(
    private readonly host: FillHost,
    private readonly lock: ResolvedCacheOptions['lock'],
    private readonly onFill: (key: string, endpoint: string | undefined, durationMs: number, stored: boolean) => void,
  ) {
    // Without a cross-process lock, in-process waiters are still bounded by the default wait.
    const settings = lock === false ? DEFAULT_LOCK_OPTIONS : lock;
    this.waitMs = settings.waitMs;
    this.pollMs = settings.pollMs;
    // A leader calling the origin for longer than its lock lives is presumed dead, here as in
    // other processes (whose lock on it expires then): one waiter takes the fill over.
    this.leaderTimeoutMs = settings.ttlMs;
  }

  /** Whether a fill for `key` is running in this process. */
  inFlight(key: string): boolean {
    return this.flights.has(key);
  }

  /** `stale` when it may be served now because a refresh is under way (stale-while-revalidate). */
  revalidating<V>(stale: StaleCandidate<V> | undefined, freshness: ResolvedFreshness): StaleCandidate<V> | undefined {
    return stale !== undefined && mayServeStale(stale.expiresAt, freshness, 'revalidate') ? stale : undefined;
  }

  /** Runs the protocol for one caller. Never rejects: a loader's error is a result. */
  async run<V>(spec: FillSpec<V>): Promise<FillResult<V>> {
    for (;;) {
      const flight = this.flights.get(spec.key) as Flight<V> | undefined;
      if (flight === undefined || spec.refresh === true || this.host.invalidations.invalidatedSince(flight.generation, spec.key, spec.tags)) {
        return this.lead(spec);
      }
      // Someone in this process is revalidating: within stale-while-revalidate, answer stale at once.
      const revalidating = this.revalidating(spec.stale, spec.freshness);
      if (revalidating) return { kind: 'stale', value: revalidating.value, reason: 'revalidate' };
      const outcome = await flight.wait(this.leaderTimeoutMs);
      if (outcome === undefined) {
        // The leader overran: one waiter takes the fill over and the others wait on it.
        if (this.flights.get(spec.key) === flight) {
          flight.settle({ kind: 'handoff' });
          return this.lead(spec);
        }
        continue;
      }
      switch (outcome.kind) {
        case 'handoff':
          continue;
        case 'value':
          return spec.accepts === undefined || spec.accepts(outcome.value) ? { kind: 'shared', value: outcome.value } : { kind: 'mismatch', value: outcome.value };
        case 'error':
          return this.staleIfError(spec) ?? { kind: 'error', error: outcome.error };
        case 'limited':
          return spec.stale ? { kind: 'stale', value: spec.stale.value, reason: 'rate-limited' } : outcome;
        case 'stale':
          // The leader's stale answer goes to this caller only within this caller's own window.
          if (spec.stale && (outcome.reason === 'rate-limited' || mayServeStale(spec.stale.expiresAt, spec.freshness, outcome.reason))) {
            return { kind: 'stale', value: spec.stale.value, reason: outcome.reason };
          }
          return this.lead(spec, false);
        case 'unshared':
          // Never another caller's personal answer: this one calls the origin itself.
          return this.lead(spec, false);
      }
    }
  }

  /** The leader's path. `coalesce: false` loads for this caller alone (no flight, no lock). */
  private async lead<V>(spec: FillSpec<V>, coalesce = true): Promise<FillResult<V>> {
    const generation = this.host.invalidations.generation;
    // Registered synchronously, before any await, so concurrent callers join this flight.
    const flight = new Flight<V>(generation);
    if (coalesce) this.flights.set(spec.key, flight as Flight<unknown>);
    let lock = FREE_LOCK;
    try {
      if (coalesce) lock = await this.acquire(spec.key);
      if (!lock.acquired || (lock.shared && spec.refresh !== true)) {
        // Another instance is revalidating: within stale-while-revalidate, serve stale at once.
        const revalidating = lock.acquired ? undefined : this.revalidating(spec.stale, spec.freshness);
        if (revalidating) {
          flight.settle({ kind: 'stale', reason: 'revalidate' });
          return { kind: 'stale', value: revalidating.value, reason: 'revalidate' };
        }
        // Another instance is filling (wait for it), or filled the key between this caller's
        // miss and its lock (look once more: the double-check).
        const found = lock.acquired ? await this.quietly(spec) : await this.poll(spec);
        if (found !== undefined) {
          flight.settle({ kind: 'value', value: found });
          return { kind: 'shared', value: found };
        }
      }
      flight.startFilling();
      // Checked here rather than in limit(): without a limiter a miss skips one promise and await.
      const limited = spec.freshness.limiter === undefined ? undefined : await this.limit(spec);
      if (limited !== undefined) {
        flight.settle(limited);
        return spec.stale ? { kind: 'stale', value: spec.stale.value, reason: 'rate-limited' } : limited;
      }
      return await this.load(spec, flight, generation);
    } finally {
      // Only a lock taken in the store has anything to release (FREE_LOCK and HELD_ELSEWHERE do not).
      if (lock.acquired && lock.shared) await lock.release();
      if (this.flights.get(spec.key) === flight) this.flights.delete(spec.key);
      // Waiters must never hang, whatever happened above.
      flight.settle({ kind: 'unshared' });
    }
  }

  private async load<V>(spec: FillSpec<V>, flight: Flight<V>, generation: number): Promise<FillResult<V>> {
    const started = performance.now();
    let loaded: Loaded<V>;
    try {
      loaded = await traceFill(spec.key, spec.endpoint, () => spec.load({ staleIfError: () => this.staleIfError(spec)?.value }));
    } catch (error) {
      this.onFill(spec.key, spec.endpoint, performance.now() - started, false);
      const stale = this.staleIfError(spec);
      flight.settle(stale ? { kind: 'stale', reason: 'error' } : { kind: 'error', error });
      return stale ?? { kind: 'error', error };
    }
    if (loaded.kind === 'stale') {
      this.onFill(spec.key, spec.endpoint, performance.now() - started, false);
      flight.settle({ kind: 'stale', reason: 'error' });
      return { kind: 'served-stale' };
    }
    const writes = loaded.writes ?? [];
    // Waiters are released once the entries are in the store, so nobody arriving in between
    // calls the origin again; a failed write still hands them the value (coalescing does not
    // depend on the store), but one an invalidation overtook goes to nobody else: it is stale.
    // One entry is the common case (no Vary record): no array of promises for it.
    const only = writes.length === 1 ? writes[0] : undefined;
    const outcomes = only !== undefined ? [await this.host.write(only, generation)] : await Promise.all(writes.map((write) => this.host.write(write, generation)));
    const stored = writes.length > 0 && outcomes.every((outcome) => outcome === 'stored');
    const overtaken = outcomes.includes('invalidated');
    const durationMs = performance.now() - started;
    this.onFill(spec.key, spec.endpoint, durationMs, stored);
    flight.settle(loaded.share && !overtaken ? { kind: 'value', value: loaded.value } : { kind: 'unshared' });
    return { kind: 'loaded', value: loaded.value, stored, durationMs };
  }

  private staleIfError<V>(spec: FillSpec<V>): { kind: 'stale'; value: V; reason: 'error' } | undefined {
    const { stale } = spec;
    if (stale === undefined || !mayServeStale(stale.expiresAt, spec.freshness, 'error')) return undefined;
    return { kind: 'stale', value: stale.value, reason: 'error' };
  }

  private async quietly<V>(spec: FillSpec<V>): Promise<V | undefined> {
    try {
      return await spec.find();
    } catch {
      return undefined;
    }
  }

  /** Polls (every `pollMs`, for up to `waitMs`) for the entry another instance is filling. */
  private async poll<V>(spec: FillSpec<V>): Promise<V | undefined> {
    const deadline = Date.now() + this.waitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      const found = await this.quietly(spec);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Takes the cross-process fill lock. Without lock support in the store (or `lock: false`, or
   * when the store fails) the caller fills anyway: filling without a lock beats not filling.
   */
  private async acquire(key: string): Promise<FillLock> {
    const { store } = this.host;
    if (this.lock === false || !canLock(store)) return FREE_LOCK;
    const lockKey = `${this.host.namespace}__lock__:${key.slice(this.host.namespace.length)}`;
    const { ttlMs } = this.lock;
    let token: string | undefined;
    try {
      token = await store.acquireLock(lockKey, ttlMs);
      if (token === undefined) token = await this.reclaim(store, lockKey, ttlMs);
    } catch (error) {
      this.host.reportError(error, 'acquireLock', lockKey);
      return FREE_LOCK;
    }
    if (token === undefined) {
      const orphanUntil = this.orphans.get(lockKey);
      if (orphanUntil === undefined) return HELD_ELSEWHERE;
      if (Date.now() < orphanUntil) return FREE_LOCK;
      this.orphans.delete(lockKey);
      return HELD_ELSEWHERE;
    }
    const owned = token;
    return {
      acquired: true,
      shared: true,
      release: async () => {
        // Remembered before the release is tried: it may be lost without an error.
        this.remember(lockKey, owned, Date.now() + ttlMs);
        try {
          await store.releaseLock(lockKey, owned);
        } catch (error) {
          // The lock expires by itself, and this process reclaims it before then (see `released`).
          this.host.reportError(error, 'releaseLock', lockKey);
        }
      },
    };
  }

  /**
   * Called for every failed lock acquisition the cache reports (also those a store wrapper
   * absorbed, standing in with a lock of its own): see `orphans`.
   */
  lockFailed(lockKey: string): void {
    if (this.lock === false) return;
    this.bounded(this.orphans, lockKey, Date.now() + this.lock.ttlMs);
  }

  /** Takes over a lock this process released but finds still held; undefined when someone else holds it. */
  private async reclaim(store: Store & LockCapable, lockKey: string, ttlMs: number): Promise<string | undefined> {
    const mine = this.released.get(lockKey);
    if (mine === undefined) return undefined;
    this.released.delete(lockKey);
    if (Date.now() >= mine.expiresAt) return undefined;
    // Token-owned: this deletes the lock only if it is still the one this process gave up.
    await store.releaseLock(lockKey, mine.token);
    return store.acquireLock(lockKey, ttlMs);
  }

  private remember(lockKey: string, token: string, expiresAt: number): void {
    this.bounded(this.released, lockKey, { token, expiresAt });
  }

  /** Sets `key` in `map`, dropping the oldest entry when the map is at its bound. */
  private bounded<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    if (map.size >= RELEASED_MEMORY) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    map.set(key, value);
  }

  /**
   * Counts one origin call against the spec's limiter: shared through the store when it can
   * (Redis), else kept in this process. A store failure allows the call. Calls sharing a name
   * share the limit; the name defaults to the endpoint (middleware) or the key (`wrap`).
   */
  private async limit<V>(spec: FillSpec<V>): Promise<{ kind: 'limited'; retryAfterMs: number; limiter: string } | undefined> {
    const { limiter } = spec.freshness;
    if (limiter === undefined) return undefined;
    const name = limiter.name ?? spec.limitAs ?? spec.endpoint ?? spec.key.slice(this.host.namespace.length);
    const key = `${this.host.namespace}__rate__:${name}`;
    const { store } = this.host;
    let retryAfterMs: number;
    if (!canRateLimit(store)) {
      retryAfterMs = this.localRates.consume(key, limiter, Date.now());
    } else {
      try {
        retryAfterMs = await store.consumeRate(key, limiter);
      } catch (error) {
        this.host.reportError(error, 'consumeRate', key);
        retryAfterMs = 0;
      }
    }
    return retryAfterMs > 0 ? { kind: 'limited', retryAfterMs, limiter: name } : undefined;
  }
}
