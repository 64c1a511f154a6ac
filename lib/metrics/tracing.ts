import diagnostics from 'node:diagnostics_channel';

/**
 * `node:diagnostics_channel` tracing channels, so OpenTelemetry or any tracer can follow the
 * cache without this package depending on one. Each name below is a
 * {@link https://nodejs.org/api/diagnostics_channel.html#class-tracingchannel TracingChannel}:
 * subscribe to `tracing:{name}:start|end|asyncStart|asyncEnd|error`, or call
 * `diagnostics_channel.tracingChannel(name).subscribe({...})`. The same context object travels
 * through every phase of one operation: tracers put their span on it at `start` and close it at
 * `asyncEnd` or `error` (where `context.error` is set); `context.result` holds the resolved value.
 *
 * | channel | one trace per | context |
 * | --- | --- | --- |
 * | `express-cache-kit:store` | store operation (`get`, `set`, `delete`, `deletePattern`, `deleteTags`, `deleteTagPattern`, `clear`, `acquireLock`, `releaseLock`, `consumeRate`) | {@link StoreTraceContext} |
 * | `express-cache-kit:lookup` | read of a key by the engine (hit, stale or miss) | {@link LookupTraceContext} |
 * | `express-cache-kit:fill` | origin call (loader or route handler) on a miss | {@link FillTraceContext} |
 *
 * Nothing is traced, and nothing is allocated for it, while a channel has no subscriber.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 * diagnostics.tracingChannel('express-cache-kit:store').subscribe({
 *   start(ctx) { ctx.startedAt = performance.now(); },
 *   asyncEnd(ctx) { console.log(ctx.store, ctx.operation, performance.now() - ctx.startedAt); },
 *   end() {}, asyncStart() {}, error(ctx) { console.error(ctx.operation, ctx.error); },
 * });
 * ```
 */
export const CHANNELS = Object.freeze({
  store: 'express-cache-kit:store',
  lookup: 'express-cache-kit:lookup',
  fill: 'express-cache-kit:fill',
});

/** Context of a `express-cache-kit:store` trace. */
export interface StoreTraceContext {
  /** The store's `name` (`memory`, `redis`, ...). */
  store: string;
  /** The method called. */
  operation: string;
  /** The key (with namespace), for key operations; the glob for pattern deletes. */
  key?: string;
  /** Set by the channel when the operation resolved. */
  result?: unknown;
  /** Set by the channel when the operation rejected. */
  error?: unknown;
}

/** Context of a `express-cache-kit:lookup` trace; `result` is the lookup (or undefined on a miss). */
export interface LookupTraceContext {
  key: string;
  endpoint?: string;
  result?: unknown;
  error?: unknown;
}

/** Context of a `express-cache-kit:fill` trace; `result` is the loaded value or captured answer. */
export interface FillTraceContext {
  key: string;
  endpoint?: string;
  result?: unknown;
  error?: unknown;
}

/** @internal */
export const storeChannel = diagnostics.tracingChannel<string, StoreTraceContext>(CHANNELS.store);
const lookupChannel = diagnostics.tracingChannel<string, LookupTraceContext>(CHANNELS.lookup);
const fillChannel = diagnostics.tracingChannel<string, FillTraceContext>(CHANNELS.fill);

/**
 * Runs `run` as a traced lookup of `key` when anyone subscribes to `express-cache-kit:lookup`;
 * otherwise just runs it. For the engine's fill protocol.
 *
 * @example
 * ```ts
 * const found = await traceLookup(fullKey, endpoint, () => this.read(fullKey, kind, graceMs));
 * ```
 */
export function traceLookup<T>(key: string, endpoint: string | undefined, run: () => Promise<T>): Promise<T> {
  if (!lookupChannel.hasSubscribers) return run();
  return lookupChannel.tracePromise(run, { key, endpoint });
}

/** Whether anyone subscribes to `express-cache-kit:lookup` (then lookups take the traced path). @internal */
export function lookupsTraced(): boolean {
  return lookupChannel.hasSubscribers;
}

/**
 * Runs `run` as a traced origin call for `key` when anyone subscribes to
 * `express-cache-kit:fill`; otherwise just runs it.
 *
 * @example
 * ```ts
 * const value = await traceFill(fullKey, endpoint, async () => loader());
 * ```
 */
export function traceFill<T>(key: string, endpoint: string | undefined, run: () => Promise<T>): Promise<T> {
  if (!fillChannel.hasSubscribers) return run();
  return fillChannel.tracePromise(run, { key, endpoint });
}
