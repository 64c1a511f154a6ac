/**
 * The narrow contract every storage adapter implements. A store moves bytes under keys with a
 * TTL; it knows nothing of HTTP, JS types or namespaces (the {@link Cache} adds those).
 *
 * Tags are opaque strings (the cache namespaces them like keys); a store keeps, per tag, an
 * index of the keys written with it.
 *
 * Errors: methods reject on failure (the cache turns read/write failures into misses and
 * `error` events). After {@link Store.close} every method rejects with `StoreClosedError`.
 *
 * @example
 * ```ts
 * class MyStore implements Store {
 *   readonly name = 'mine';
 *   async get(key: string) { return undefined; }
 *   // ...
 * }
 * ```
 */
export interface Store {
  /** A short name for logs and events, e.g. `memory` or `redis`. */
  readonly name: string;
  /** The bytes stored under `key`, or `undefined` when absent or expired. */
  get(key: string): Promise<Buffer | undefined>;
  /**
   * Stores `value` under `key` for `ttlMs` milliseconds, replacing any previous value atomically.
   * With `tags`, the entry joins each tag's index in the same atomic step (standalone Redis) so
   * an entry can never exist without being reachable from its tags. A tag index lives at least
   * as long as its longest-lived member.
   */
  set(key: string, value: Buffer, ttlMs: number, tags?: readonly string[]): Promise<void>;
  /** Removes `key`; resolves `true` when something was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * Removes every key matching the Redis-style glob `pattern`; resolves with how many were
   * removed. Tag indexes are never matched (nor counted): they are not entries.
   */
  deletePattern(pattern: string): Promise<number>;
  /**
   * Removes every entry carrying one of `tags`, and the tags' indexes; resolves with how many
   * entries were removed (already expired members are not counted). The cost is proportional to
   * the tagged entries, never to the size of the store.
   */
  deleteTags(tags: readonly string[]): Promise<number>;
  /**
   * Removes every tag whose name matches the Redis-style glob `pattern`, with all their entries;
   * resolves with how many entries were removed. Unlike {@link Store.deleteTags} this walks the
   * store's tag names (on Redis a `SCAN` of the index keys).
   */
  deleteTagPattern(pattern: string): Promise<number>;
  /** Removes every entry this store holds (never data it does not own). */
  clear(): Promise<void>;
  /** Releases resources. Connections the store did not create are left open. */
  close(): Promise<void>;

  /**
   * Optional: takes a short exclusive lock (stampede protection across processes). Resolves an
   * owner token when taken, `undefined` when someone else holds it. The lock expires by itself
   * after `ttlMs`, so a dead holder cannot block others for long.
   */
  acquireLock?(key: string, ttlMs: number): Promise<string | undefined>;
  /** Optional: releases a lock, only if `token` still owns it. */
  releaseLock?(key: string, token: string): Promise<void>;
  /**
   * Optional: records one origin call against the limiter named `key`, atomically across every
   * process sharing the store. Resolves 0 when the call is allowed (and counted), else the
   * milliseconds until one will be.
   */
  consumeRate?(key: string, limits: RateLimits): Promise<number>;
}

/** Limits of an origin rate limiter; a limit of 0 is off. */
export interface RateLimits {
  /** Least time between two calls, in milliseconds. */
  minIntervalMs: number;
  /** Most calls per window. */
  maxPerWindow: number;
  /** The window of `maxPerWindow`, in milliseconds. */
  windowMs: number;
}
