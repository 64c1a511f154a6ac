import type { OutgoingHttpHeaders } from 'node:http';
import type { Cache } from '../engine/cache';
import type { RefreshOutcome } from '../engine/events';
import { getDefaultCache } from '../default-cache';
import { InvalidOptionError } from '../errors';
import { runRefresh } from '../http/background';
import { type DurationString, nonNegativeDurationSeconds } from '../ttl';
import { optionNames, optionalString, plainObject, rejectUnknownOptions } from '../validate';
import type { RequestListener } from './dispatch';

/**
 * One route to keep filled: a path of the app and how often to refresh it.
 *
 * @example
 * ```ts
 * const route: RefreshRoute = { path: '/charts/top?limit=10', every: '12h', headers: { 'accept-language': 'en' } };
 * ```
 */
export interface RefreshRoute {
  /** The path and query, relative to the app (`/charts/top?limit=10`). */
  path: string;
  /** How often: seconds or a duration string (`'12h'`, `'200ms'`). */
  every: number | DurationString;
  /** Request headers the route's key or `Vary` depends on (`accept-language`, ...). */
  headers?: Record<string, string>;
}

/**
 * Options of {@link refreshRoutes}.
 *
 * @example
 * ```ts
 * refreshRoutes(app, [{ path: '/charts/top', every: '12h' }], { cache, host: 'api.example.com' });
 * ```
 */
export interface RefreshRoutesOptions {
  /**
   * The cache that reports the refreshes (`refresh` events) and whose `close()` stops them;
   * use the one the routes' `cacheResponse` uses.
   * @default the default cache ({@link getDefaultCache}) at the time of the call
   */
  cache?: Cache;
  /**
   * The `Host` the refresh requests name. Route keys cover the host (unless the route sets
   * `keyByHost: false`), so give the one clients use, e.g. `'api.example.com'`.
   * @default 'localhost'
   */
  host?: string;
}

/**
 * Counters of one scheduled route.
 *
 * @example
 * ```ts
 * const [top] = refresher.stats(); // { path: '/charts/top', stored: 3, notStored: 0, failed: 0, skipped: 0, ... }
 * ```
 */
export interface RefreshRouteStats {
  path: string;
  /** Refreshes that ran, by how they ended. */
  stored: number;
  notStored: number;
  failed: number;
  /** Runs left out because the previous one was still running (or another refresh of the key was). */
  skipped: number;
  /** When the last run ended, epoch ms; undefined before the first. */
  lastRunAt: number | undefined;
  lastOutcome: RefreshOutcome | undefined;
}

/**
 * What {@link refreshRoutes} returns.
 *
 * @example
 * ```ts
 * const refresher = refreshRoutes(app, [{ path: '/charts/top', every: '12h' }], { cache });
 * await refresher.ready;
 * refresher.stop();
 * ```
 */
export interface RouteRefresher {
  /** Resolves once the start-up run of every route has ended. Never rejects. */
  readonly ready: Promise<void>;
  /** Counters per route, in the order given. */
  stats(): RefreshRouteStats[];
  /** Stops the schedule (also done by the cache's `close()`); a run under way finishes. */
  stop(): void;
}

const ROUTE_NAMES = optionNames<RefreshRoute>({ path: true, every: true, headers: true });
const OPTION_NAMES = optionNames<RefreshRoutesOptions>({ cache: true, host: true });

function checkRoute(route: unknown, index: number): { path: string; everyMs: number; headers: Record<string, string> } {
  plainObject(`refreshRoutes routes[${index}]`, route);
  rejectUnknownOptions('refreshRoutes route', route as object, ROUTE_NAMES);
  const { path, every, headers } = route as RefreshRoute;
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || /[\s#]/.test(path)) {
    throw new InvalidOptionError('path', `expected a path of the app such as '/charts/top', got ${String(path)}`);
  }
  const seconds = nonNegativeDurationSeconds('every', every);
  if (seconds <= 0) throw new InvalidOptionError('every', `expected a positive number of seconds or a duration string ('12h'), got ${String(every)}`);
  if (headers !== undefined) {
    plainObject('headers', headers);
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string' || /[\r\n]/.test(value)) throw new InvalidOptionError('headers', `expected string values without line breaks, got ${name}: ${String(value)}`);
    }
  }
  return { path, everyMs: seconds * 1000, headers: Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])) };
}

/**
 * Keeps routes cached by `cacheResponse` filled: requests each path through `app` itself (no
 * listening port, no absolute URL) at start-up and then every `every`, replacing the stored
 * answer even while it is fresh, so clients never wait for these routes. A run is skipped while
 * the previous run of the same route is still going; across processes the fill lock keeps it
 * to one refresh per key at a time. Each run ends in a `refresh` event (`trigger: 'schedule'`)
 * on the cache; `stats()` counts them. `cache.close()` (or `stop()`) ends the schedule.
 *
 * Invalid routes or options throw `InvalidOptionError` naming the option.
 *
 * @example
 * ```ts
 * const refresher = refreshRoutes(app, [{ path: '/charts/top', every: '12h' }], { cache, host: 'api.example.com' });
 * await refresher.ready;
 * ```
 */
export function refreshRoutes(app: RequestListener, routes: readonly RefreshRoute[], options: RefreshRoutesOptions = {}): RouteRefresher {
  if (typeof app !== 'function') throw new InvalidOptionError('app', 'expected an Express app (a function (req, res))');
  if (!Array.isArray(routes)) throw new InvalidOptionError('routes', 'expected an array of { path, every }');
  plainObject('refreshRoutes options', options);
  rejectUnknownOptions('refreshRoutes', options, OPTION_NAMES);
  const host = optionalString('host', options.host) ?? 'localhost';
  if (/[\s/]/.test(host)) throw new InvalidOptionError('host', `expected a host name with an optional port, got ${host}`);
  const checked = routes.map((route, index) => checkRoute(route, index));
  const cache = options.cache ?? getDefaultCache();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  const stats: RefreshRouteStats[] = checked.map(({ path }) => ({ path, stored: 0, notStored: 0, failed: 0, skipped: 0, lastRunAt: undefined, lastOutcome: undefined }));
  const running = checked.map(() => false);

  const run = async (index: number): Promise<void> => {
    const route = checked[index];
    const counts = stats[index];
    if (route === undefined || counts === undefined || stopped) return;
    if (running[index] === true) {
      counts.skipped++;
      cache.reportRefresh({ endpoint: route.path, trigger: 'schedule', outcome: 'skipped', durationMs: 0 });
      return;
    }
    running[index] = true;
    try {
      const headers: OutgoingHttpHeaders = { host, ...route.headers };
      const report = await runRefresh(cache, app, { method: 'GET', url: route.path, headers: headers as Record<string, string> }, 'schedule');
      if (report.outcome === 'stored') counts.stored++;
      else if (report.outcome === 'not-stored') counts.notStored++;
      else if (report.outcome === 'failed') counts.failed++;
      else counts.skipped++;
      counts.lastRunAt = Date.now();
      counts.lastOutcome = report.outcome;
    } finally {
      running[index] = false;
    }
  };

  const stop = (): void => {
    stopped = true;
    for (const timer of timers.splice(0)) clearInterval(timer);
    unregister();
  };
  const unregister = cache.onClose(stop);
  if (cache.isClosed) stop();

  const ready = Promise.all(checked.map((_route, index) => run(index))).then(() => undefined);
  checked.forEach((route, index) => {
    if (stopped) return;
    const timer = setInterval(() => void run(index), route.everyMs);
    // A schedule alone never keeps the process alive.
    timer.unref();
    timers.push(timer);
  });

  return { ready, stats: () => stats.map((counts) => ({ ...counts })), stop };
}
