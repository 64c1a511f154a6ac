/**
 * Stable codes carried by every error this package throws, so callers can branch on `err.code`
 * instead of parsing messages.
 */
export type CacheErrorCode =
  | 'ERR_CACHE_INVALID_OPTION'
  | 'ERR_CACHE_STORE'
  | 'ERR_CACHE_TIMEOUT'
  | 'ERR_CACHE_CLOSED'
  | 'ERR_CACHE_UNAVAILABLE'
  | 'ERR_CACHE_RATE_LIMITED'
  | 'ERR_CACHE_UNSUPPORTED'
  | 'ERR_CACHE_INVALIDATION_PENDING'
  | 'ERR_CACHE_MISSING_PEER'
  | 'ERR_CACHE_PURGE';

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
 * A walk of the keyspace (a pattern or tag-pattern delete, `clear`) failed part way, after its
 * retries. It says how far it got: `removed` entries are gone, the walk stopped at `cursor` of
 * `node`. Running the same invalidation again finishes it (what is gone stays gone).
 *
 * @example
 * ```ts
 * try { await cache.invalidatePattern('character:*'); }
 * catch (err) { if (err instanceof IncompleteDeleteError) log.warn(`removed ${err.removed}, retrying`); }
 * ```
 */
export class IncompleteDeleteError extends StoreError {
  /** The glob being removed. */
  readonly pattern: string;
  /** How many entries were removed before the walk stopped. */
  readonly removed: number;
  /** The SCAN cursor the walk stopped at (`'0'`: it stopped before its first step on `node`). */
  readonly cursor: string;
  /** The server (`host:port`) being walked when it stopped. */
  readonly node: string;
  /** How many servers (cluster masters) had been walked completely. */
  readonly nodesDone: number;

  constructor(operation: string, details: { pattern: string; removed: number; cursor: string; node: string; nodesDone: number; nodes: number }, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      operation,
      `${operation} "${details.pattern}" stopped after removing ${details.removed} entries, at SCAN cursor ${details.cursor} on ${details.node} ` +
        `(${details.nodesDone} of ${details.nodes} servers done); run it again to finish: ${reason}`,
      { cause },
    );
    this.pattern = details.pattern;
    this.removed = details.removed;
    this.cursor = details.cursor;
    this.node = details.node;
    this.nodesDone = details.nodesDone;
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

  constructor(operation: string, timeoutMs: number, cause?: Error) {
    super('ERR_CACHE_TIMEOUT', `store operation "${operation}" timed out after ${timeoutMs} ms${cause ? ` (not connected: ${cause.message})` : ''}`, cause ? { cause } : undefined);
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

/**
 * The store is degraded (its circuit breaker is open) and there is no fallback store: the
 * operation was skipped without touching the store. The built-in breaker no longer throws it
 * (while open, reads are misses and writes are skipped without an error); it stays for custom
 * wrappers that want to signal a skip.
 *
 * @example
 * ```ts
 * cache.on('degraded', ({ error }) => log.warn('cache store degraded', error));
 * ```
 */
export class StoreUnavailableError extends CacheError {
  /** The store operation that was skipped. */
  readonly operation: string;

  constructor(operation: string) {
    super('ERR_CACHE_UNAVAILABLE', `store is degraded: "${operation}" skipped until it recovers`);
    this.operation = operation;
  }
}

/**
 * An origin call was refused by a `limiter` and no stale entry could stand in for it.
 * `retryAfterMs` says when the limiter will allow the next call.
 *
 * @example
 * ```ts
 * try { await cache.wrap('spotify:me', load, { limiter: { name: 'spotify', minIntervalMs: 2000 } }); }
 * catch (err) { if (err instanceof RateLimitedError) retryIn(err.retryAfterMs); }
 * ```
 */
export class RateLimitedError extends CacheError {
  /** The limiter that refused the call. */
  readonly limiter: string;
  /** Milliseconds until the limiter allows another call. */
  readonly retryAfterMs: number;

  constructor(limiter: string, retryAfterMs: number) {
    super('ERR_CACHE_RATE_LIMITED', `origin rate limit "${limiter}" reached; retry in ${retryAfterMs} ms`);
    this.limiter = limiter;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The store lacks a capability an operation needs (for example a custom store without
 * `deletePattern` asked to invalidate a pattern). `capability` names the missing interface.
 *
 * @example
 * ```ts
 * try { await cache.invalidatePattern('character:*'); }
 * catch (err) { if (err instanceof UnsupportedOperationError) console.error(err.capability); }
 * ```
 */
export class UnsupportedOperationError extends CacheError {
  /** The capability interface the store would need, e.g. `PatternCapable`. */
  readonly capability: string;

  constructor(store: string, operation: string, capability: string) {
    super('ERR_CACHE_UNSUPPORTED', `store "${store}" cannot ${operation}: it does not implement ${capability}`);
    this.capability = capability;
  }
}

/**
 * An invalidation the store could not apply now (refused, timed out, the breaker open). It is
 * not lost: it was journaled and is applied when the store answers again, before that store
 * serves another read, and reads are misses until then. Only callers that ask for it see this
 * error (`strict: true`); by default invalidations resolve with `pending: true` instead.
 * `cause` is the store's error; `removed` what was removed (or marked) where it could be.
 *
 * @example
 * ```ts
 * try { await invalidateCharacterCache(id, { strict: true }); }
 * catch (err) { if (err instanceof InvalidationPendingError) log.warn('invalidation journaled', err.cause); }
 * ```
 */
export class InvalidationPendingError extends CacheError {
  /** Entries removed (or marked) by the parts that could be applied. */
  readonly removed: number;

  constructor(operation: string, removed: number, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('ERR_CACHE_INVALIDATION_PENDING', `invalidation "${operation}" could not reach the store now and was journaled; it is applied when the store answers again${reason}`, options);
    this.removed = removed;
  }
}

/**
 * An optional peer dependency is not installed: `feature` needs `packageName`. The message says
 * what to run (`npm install <package>`); the resolution failure (`MODULE_NOT_FOUND`) is the
 * `cause`. Only the feature that needs the package throws it: the package root loads without
 * any optional peer.
 *
 * @example
 * ```ts
 * try { new RedisStore({ url: process.env.REDIS_URL }); }
 * catch (err) { if (err instanceof MissingPeerError) console.error(`install ${err.packageName}`); }
 * ```
 */
export class MissingPeerError extends CacheError {
  /** The npm package to install, e.g. `ioredis`. */
  readonly packageName: string;
  /** What needs it, e.g. `RedisStore`. */
  readonly feature: string;

  constructor(feature: string, packageName: string, install: string, cause: unknown) {
    super('ERR_CACHE_MISSING_PEER', `${feature} needs the "${packageName}" package: run \`${install}\` (an optional peer dependency of express-cache-kit)`, { cause });
    this.packageName = packageName;
    this.feature = feature;
  }
}

/**
 * Loads an optional peer with `load` (a `require` written at the call site, so bundlers see it),
 * turning a missing package into a {@link MissingPeerError}; any other load failure (a broken
 * install, a syntax error in it) is rethrown as it is.
 * @internal
 */
export function loadPeer<T>(feature: string, packageName: string, load: () => T, install = `npm install ${packageName}`): T {
  try {
    return load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingPeerError(feature, packageName, install, error);
    throw error;
  }
}

/**
 * A purge sent to the CDN (the `purge` hook of `createCache`) failed. Emitted as the cache's
 * `error` event (operation `purge`), never thrown into the app: `willRetry` says whether another
 * attempt follows. `cause` is the hook's error.
 *
 * @example
 * ```ts
 * cache.on('error', ({ error }) => {
 *   if (error instanceof PurgeError && !error.willRetry) log.warn(`CDN purge dropped: ${error.message}`);
 * });
 * ```
 */
export class PurgeError extends CacheError {
  /** Which attempt failed, from 1. */
  readonly attempt: number;
  /** Whether the purge is tried again. */
  readonly willRetry: boolean;

  constructor(what: string, attempt: number, willRetry: boolean, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('ERR_CACHE_PURGE', `purge of ${what} failed (attempt ${attempt}${willRetry ? ', retrying' : ', giving up'})${reason}`, options);
    this.attempt = attempt;
    this.willRetry = willRetry;
  }
}
