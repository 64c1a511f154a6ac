import { type WarmResult, runTasks } from '../engine/tasks';
import { InvalidOptionError } from '../errors';
import { optionNames, plainObject, rejectUnknownOptions } from '../validate';

/** A route to request so that its `cacheResponse` middleware fills itself. */
export interface WarmRouteTask {
  /** An absolute URL (`http://127.0.0.1:3000/status`), or a path when `baseUrl` is given. */
  url: string;
  headers?: Record<string, string>;
}

/** Options of {@link warmRoutes}. */
export interface WarmRoutesOptions {
  /**
   * Resolves task URLs that are paths, e.g. `http://127.0.0.1:3000`.
   * @default none: every task URL must be absolute
   */
  baseUrl?: string;
  /**
   * Requests made at once.
   * @default 4
   */
  concurrency?: number;
}

/**
 * Prefills routes cached by `cacheResponse` by requesting them (a GET each), so each route
 * stores its own answer as it would for a client. Never rejects: resolves how many requests
 * answered 2xx and the errors of the others.
 *
 * @example
 * ```ts
 * await warmRoutes([{ url: '/spotify/top' }, { url: '/status' }], { baseUrl: 'http://127.0.0.1:3000' });
 * ```
 */
export function warmRoutes(tasks: readonly WarmRouteTask[], options: WarmRoutesOptions = {}): Promise<WarmResult<WarmRouteTask>> {
  plainObject('warmRoutes options', options);
  rejectUnknownOptions('warmRoutes', options, WARM_ROUTES_OPTION_NAMES);
  const { baseUrl } = options;
  if (baseUrl !== undefined && (typeof baseUrl !== 'string' || !URL.canParse(baseUrl))) {
    throw new InvalidOptionError('baseUrl', `expected an absolute URL such as http://127.0.0.1:3000, got ${String(baseUrl)}`);
  }
  return runTasks(tasks, options.concurrency, async (task) => {
    if (!URL.canParse(task.url, baseUrl)) throw new InvalidOptionError('url', `"${task.url}" is not an absolute URL; pass { baseUrl } to warm paths`);
    const url = new URL(task.url, baseUrl);
    const res = await fetch(url, { headers: task.headers });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`GET ${url.href} answered ${res.status}`);
  });
}

const WARM_ROUTES_OPTION_NAMES = optionNames<WarmRoutesOptions>({ baseUrl: true, concurrency: true });
