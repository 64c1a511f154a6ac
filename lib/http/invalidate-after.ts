import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import { InvalidOptionError } from '../errors';
import { InvalidationPendingError } from '../errors';
import { invalidateTargets } from '../invalidation';
import type { InvalidationTargets } from '../invalidation';
import { holdResponse } from './hold';
import { resolveTags } from '../validate';
import { type InvalidateAfterOptions, type RouteMiddleware, asRouteMiddleware, resolveInvalidateAfterOptions } from './options';

// Express' default `req.params` type, named without importing express-serve-static-core (not a
// direct dependency of apps, e.g. under pnpm).
type ParamsDictionary = Request['params'];

/**
 * What {@link invalidateAfter} invalidates: fixed targets, or targets computed per request
 * (return `undefined` to invalidate nothing). `P` types `req.params`: Express' loose
 * `ParamsDictionary` by default (each value `string | string[]`); name the route's parameters
 * (`{ id: string }`) to use them as ids.
 *
 * @example
 * ```ts
 * const spec: InvalidateAfterSpec<{ id: string }> = (req) => ({ scopes: [['character', req.params.id]] });
 * ```
 */
export type InvalidateAfterSpec<P = ParamsDictionary> = InvalidationTargets | ((req: Request<P>, res: Response) => InvalidationTargets | undefined);

// RFC 9110 §15.3: only a 2xx says the write happened; anything else must leave the cache alone.
function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function checkTargets(targets: InvalidationTargets): void {
  const lists = { scopes: targets.scopes, keys: targets.keys, patterns: targets.patterns };
  for (const [name, list] of Object.entries(lists)) {
    if (list !== undefined && !Array.isArray(list)) throw new InvalidOptionError(`spec.${name}`, 'expected an array');
  }
  resolveTags('tags', targets.tags);
  if (targets.soft !== undefined && typeof targets.soft !== 'boolean') throw new InvalidOptionError('spec.soft', 'expected a boolean');
}

/**
 * Middleware for write routes: when the handler answers with a 2xx, it invalidates `spec` (or
 * what `spec(req, res)` returns: scopes, tags, keys, patterns) **before the response is sent**:
 * the head is held until the invalidation resolves (bounded by `timeoutMs`), so a client that
 * reads right after its write never gets the old answer. A failed write (any other status)
 * invalidates nothing. A store that cannot take the invalidation now never fails the response:
 * the invalidation is journaled (applied when the store answers again), the cache emits `error`,
 * and the answer goes out; with `strict: true`, `onError` hears it too. A spec that throws goes
 * to `onError`.
 *
 * @example
 * ```ts
 * app.put(
 *   '/characters/:id',
 *   invalidateAfter<{ id: string }>((req) => ({ scopes: [['character', req.params.id]], tags: ['leaderboard'] })),
 *   updateCharacterHandler,
 * );
 * // Mark stale instead: readers with a stale-while-revalidate window get the old answer once.
 * app.patch('/characters/:id', invalidateAfter((req) => ({ scopes: [['character', req.params.id]], soft: true })), patchHandler);
 * ```
 */
export function invalidateAfter<P = ParamsDictionary>(given: InvalidateAfterSpec<P>, options: InvalidateAfterOptions = {}): RouteMiddleware {
  // Route parameters only type the caller's function; at run time `req` is Express' own.
  const spec = given as InvalidateAfterSpec;
  const opts = resolveInvalidateAfterOptions(spec, options);
  const fail = (error: unknown, req: Request, res: Response): void => opts.onError(error instanceof Error ? error : new Error(String(error)), req, res);

  /** The invalidation for a response whose head carries `status`, or nothing to wait for. */
  const atHead = (req: Request, res: Response, status: number): Promise<unknown> | undefined => {
    if (!isSuccess(status)) return undefined;
    let targets: InvalidationTargets | undefined;
    try {
      targets = typeof spec === 'function' ? spec(req, res) : spec;
      if (targets === undefined) return undefined;
      checkTargets(targets);
    } catch (error) {
      fail(error, req, res);
      return undefined;
    }
    return invalidateTargets(targets, opts.cache ?? getDefaultCache(), { strict: opts.strict }).catch((error: unknown) => {
      // A pending invalidation is journaled: only `strict` callers want to hear of it here.
      if (!(error instanceof InvalidationPendingError) || opts.strict) fail(error, req, res);
    });
  };

  return asRouteMiddleware(function invalidateAfterMiddleware(req: Request, res: Response, next: NextFunction): void {
    holdResponse(res, (status) => atHead(req, res, status), opts.timeoutMs);
    next();
  });
}
