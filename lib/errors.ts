/**
 * Stable codes carried by every error this package throws, so callers can branch on `err.code`
 * instead of parsing messages.
 */
export type CacheErrorCode =
  | 'ERR_CACHE_INVALID_OPTION'
  | 'ERR_CACHE_STORE'
  | 'ERR_CACHE_TIMEOUT'
  | 'ERR_CACHE_CLOSED';

/**
 * Base class of every error thrown by this package.
 *
 * @example
 * ```ts
 * try { createCache({ defaultTtl: -1 }); } catch (err) {
 *   if (err instanceof CacheError) console.error(err.code);
 * }
 * ```
 */
export class CacheError extends Error {
  /** A stable, machine-readable code. */
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Thrown at construction when an option is invalid. `option` names the offending option.
 *
 * @example
 * ```ts
 * cacheResponse({ ttl: 'nope' }); // InvalidOptionError: option "ttl": unknown TTL profile "nope" ...
 * ```
 */
export class InvalidOptionError extends CacheError {
  /** The dotted name of the option that was rejected, e.g. `ttl` or `store.maxBytes`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('ERR_CACHE_INVALID_OPTION', `option "${option}": ${message}`);
    this.option = option;
  }
}

/**
 * A store operation failed (connection refused, protocol error, ...). The original error is in
 * `cause`. Read paths never surface it to requests: it is emitted as an `error` event instead.
 *
 * @example
 * ```ts
 * cache.on('error', ({ error }) => { if (error instanceof StoreError) metrics.storeFailures++; });
 * ```
 */
export class StoreError extends CacheError {
  /** The store operation that failed, e.g. `get` or `deletePattern`. */
  readonly operation: string;

  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super('ERR_CACHE_STORE', message, options);
    this.operation = operation;
  }
}

/**
 * A store operation did not answer within its timeout; the operation is treated as failed.
 *
 * @example
 * ```ts
 * new RedisStore({ client, operationTimeoutMs: 50 }); // slower commands raise StoreTimeoutError
 * ```
 */
export class StoreTimeoutError extends CacheError {
  /** The store operation that timed out. */
  readonly operation: string;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('ERR_CACHE_TIMEOUT', `store operation "${operation}" timed out after ${timeoutMs} ms`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The store or cache was used after `close()`.
 *
 * @example
 * ```ts
 * await store.close();
 * await store.get('k'); // rejects with StoreClosedError
 * ```
 */
export class StoreClosedError extends CacheError {
  constructor(what: string) {
    super('ERR_CACHE_CLOSED', `${what} is closed`);
  }
}
