import { performance } from 'node:perf_hooks';
import { type CapabilityForwarders, type CapabilityMethods, READ_LATER, type Store, type SyncReadCapable, forwardCapabilities } from '../stores/store';
import { storeChannel } from './tracing';

/** One finished store operation, as {@link InstrumentedStore.observe} listeners see it. */
export interface StoreOperation {
  /** The store's `name`. */
  store: string;
  operation: string;
  durationMs: number;
  /** Set when the operation rejected. */
  error?: unknown;
}

/**
 * Wraps a store so each operation is traced on the `express-cache-kit:store` tracing channel
 * (see {@link CHANNELS}) and timed for in-process observers (the Prometheus exporter). It
 * forwards exactly the capabilities its store has, so capability checks see through it.
 *
 * Cheap when nobody listens: with no channel subscriber and no observer an operation is one
 * extra call and two property reads, no clock read and no allocation. `createCache` puts it
 * right around the primary store (inside the breaker), so durations are the store's own.
 *
 * @example
 * ```ts
 * const store = new InstrumentedStore(new RedisStore({ url }));
 * const stop = store.observe(({ operation, durationMs }) => console.log(operation, durationMs));
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class InstrumentedStore implements Store {
  readonly name: string;
  private readonly observers = new Set<(operation: StoreOperation) => void>();

  constructor(readonly inner: Store) {
    this.name = inner.name;
    forwardCapabilities(this, inner, this.forwarders());
  }

  /** Each capability, timed and traced under the operation name it reports. */
  private forwarders(): CapabilityForwarders {
    return {
      pattern: (inner) => ({ deletePattern: (pattern) => this.run('deletePattern', pattern, () => inner.deletePattern(pattern)) }),
      tags: (inner) => ({
        deleteTags: (tags) => this.run('deleteTags', undefined, () => inner.deleteTags(tags)),
        deleteTagPattern: (pattern) => this.run('deleteTagPattern', pattern, () => inner.deleteTagPattern(pattern)),
      }),
      lock: (inner) => ({
        acquireLock: (key, ttlMs) => this.run('acquireLock', key, () => inner.acquireLock(key, ttlMs)),
        releaseLock: (key, token) => this.run('releaseLock', key, () => inner.releaseLock(key, token)),
      }),
      rate: (inner) => ({ consumeRate: (key, limits) => this.run('consumeRate', key, () => inner.consumeRate(key, limits)) }),
      prune: (inner) => ({
        prune: () => this.run('prune', undefined, () => inner.prune()),
        inspect: (options) => this.run('inspect', undefined, () => inner.inspect(options)),
      }),
      guard: (inner) => ({
        stampInvalidations: (names, atMs, ttlMs) => this.run('stampInvalidations', names[0], () => inner.stampInvalidations(names, atMs, ttlMs)),
        setUnlessInvalidated: (key, value, ttlMs, tags, names, sinceMs) => this.run('set', key, () => inner.setUnlessInvalidated(key, value, ttlMs, tags, names, sinceMs)),
      }),
      soft: (inner) => ({
        getWithMark: (key) => this.run('get', key, () => inner.getWithMark(key)),
        softDelete: (key, atMs) => this.run('softDelete', key, () => inner.softDelete(key, atMs)),
        softDeletePattern: (pattern, atMs) => this.run('softDeletePattern', pattern, () => inner.softDeletePattern(pattern, atMs)),
        softDeleteTags: (tags, atMs) => this.run('softDeleteTags', undefined, () => inner.softDeleteTags(tags, atMs)),
        softDeleteTagPattern: (pattern, atMs) => this.run('softDeleteTagPattern', pattern, () => inner.softDeleteTagPattern(pattern, atMs)),
      }),
      stale: (inner) => ({ isStale: (key) => this.run('isStale', key, () => inner.isStale(key)) }),
      readNow: (inner) => ({ readNow: (key) => this.readNowOf(inner, key) }),
    };
  }

  /**
   * Calls `listener` after every operation with its duration (and error). Returns a function
   * that stops it.
   */
  observe(listener: (operation: StoreOperation) => void): () => void {
    this.observers.add(listener);
    return () => void this.observers.delete(listener);
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.run('get', key, () => this.inner.get(key));
  }

  set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void> {
    return this.run('set', key, () => this.inner.set(key, value, ttlMs, tags));
  }

  delete(key: string): Promise<boolean> {
    return this.run('delete', key, () => this.inner.delete(key));
  }

  clear(): Promise<void> {
    return this.run('clear', undefined, () => this.inner.clear());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * A same-tick read, timed for observers like any `get`. While a tracer listens the read is
   * left to the traced asynchronous path ({@link READ_LATER}), so every get still shows as a span.
   */
  private readNowOf(inner: SyncReadCapable, key: string): ReturnType<SyncReadCapable['readNow']> {
    if (storeChannel.hasSubscribers) return READ_LATER;
    if (this.observers.size === 0) return inner.readNow(key);
    const started = performance.now();
    const found = inner.readNow(key);
    if (found !== READ_LATER) this.notify({ store: this.name, operation: 'get', durationMs: performance.now() - started });
    return found;
  }

  private run<T>(operation: string, key: string | undefined, call: () => Promise<T>): Promise<T> {
    const traced = storeChannel.hasSubscribers;
    if (!traced && this.observers.size === 0) return call();
    const traceable = traced ? () => storeChannel.tracePromise(call, { store: this.name, operation, key }) : call;
    return this.observers.size === 0 ? traceable() : this.timed(operation, traceable);
  }

  private timed<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    // Plain then() rather than an async function: one promise fewer on every timed hit.
    return call().then(
      (result) => {
        this.notify({ store: this.name, operation, durationMs: performance.now() - started });
        return result;
      },
      (error: unknown) => {
        this.notify({ store: this.name, operation, durationMs: performance.now() - started, error });
        throw error;
      },
    );
  }

  private notify(operation: StoreOperation): void {
    for (const observer of this.observers) {
      try {
        observer(operation);
      } catch {
        // An observer's bug must not fail a store operation.
      }
    }
  }
}

// Capabilities are own properties, present exactly when the inner store has them.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface InstrumentedStore extends Partial<CapabilityMethods> {}

/**
 * The stores inside `store`, outermost first, following the wrappers of this package
 * (`inner` of an InstrumentedStore, `primary` and `fallback` of the breaker). @internal
 */
export function storeLayers(store: Store): Store[] {
  const layers: Store[] = [];
  const visit = (current: Store): void => {
    if (layers.includes(current)) return;
    layers.push(current);
    const record = current as unknown as { inner?: unknown; primary?: unknown; fallback?: unknown };
    for (const next of [record.inner, record.primary, record.fallback]) {
      if (next !== undefined && next !== null && typeof next === 'object' && typeof (next as Store).get === 'function') visit(next as Store);
    }
  };
  visit(store);
  return layers;
}
