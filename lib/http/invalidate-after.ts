import type { NextFunction, Request, Response } from 'express';
import { getDefaultCache } from '../default-cache';
import { InvalidOptionError } from '../errors';
import { invalidateTargets } from '../invalidation';
import type { InvalidationTargets } from '../invalidation';
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
 * Middleware for write routes: once the response has finished with a 2xx, it invalidates
 * `spec` (or what `spec(req, res)` returns: scopes, tags, keys, patterns). A failed write (any
 * other status, or a response that never finishes) invalidates nothing. It runs after the
 * response was sent, so it never delays or changes it; a failure goes to `onError` and to the
 * cache's `error` event, never to the client.
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

  const run = (req: Request, res: Response): void => {
    if (!isSuccess(res.statusCode)) return;
    let targets: InvalidationTargets | undefined;
    try {
      targets = typeof spec === 'function' ? spec(req, res) : spec;
      if (targets === undefined) return;
      checkTargets(targets);
    } catch (error) {
      opts.onError(error instanceof Error ? error : new Error(String(error)), req, res);
      return;
    }
    invalidateTargets(targets, opts.cache ?? getDefaultCache()).catch((error: unknown) => {
      opts.onError(error instanceof Error ? error : new Error(String(error)), req, res);
    });
  };

  return asRouteMiddleware(function invalidateAfterMiddleware(req: Request, res: Response, next: NextFunction): void {
    res.once('finish', () => run(req, res));
    next();
  });
}
