import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Cache } from '../engine/cache';
import { CacheError, InvalidOptionError } from '../errors';
import { HotKeys } from '../metrics/hot-keys';
import { storeLayers } from '../metrics/instrumented-store';
import { endpointOfKey } from '../metrics/endpoint';
import { type ListedEntry, listEntries } from '../metrics/inventory';
import { type StatsSnapshot, statsOf } from '../metrics/stats';
import { History, type HistoryPoint } from './history';
import { renderPage } from './page';

export type { HistoryPoint } from './history';
export type { ListedEntry } from '../metrics/inventory';
export type { StatsSnapshot } from '../metrics/stats';

/** Options of {@link cacheDashboard}. */
export interface CacheDashboardOptions {
  /** The cache to show. */
  cache: Cache;
  /**
   * Decides who may see the page and invalidate: return `true` to let `req` in. Without it every
   * request is refused with 403, because the page lists keys and can remove entries.
   */
  authorize?: (req: Request) => boolean | Promise<boolean>;
  /**
   * How often hit rates are sampled for the chart, in ms (also the page's refresh interval,
   * at least 1 s).
   * @default 5000
   */
  sampleIntervalMs?: number;
  /**
   * How many samples each endpoint's curve keeps (at the default interval, 10 minutes).
   * @default 120
   */
  historySize?: number;
  /**
   * How many entries the largest-entries list looks at (a `SCAN` on Redis, redone at most
   * once per sample interval, and at most every 5 s).
   * @default 5000
   */
  scanLimit?: number;
}

/** What `/stats.json` answers. */
export interface DashboardData {
  /** Counters, totals and per endpoint, with reasons (as `cache.stats()` with per-endpoint stats). */
  stats: StatsSnapshot;
  /** Hit rate per endpoint over the last samples, oldest first. */
  history: Record<string, HistoryPoint[]>;
  store: {
    name: string;
    /** `open` while the breaker skips the store, `closed` otherwise, `none` without a breaker. */
    breaker: 'open' | 'closed' | 'none';
    lastError: { message: string; operation: string; at: number } | null;
    degradedSince: number | null;
  };
  /** Entries by size and by hits; `largest` is `null` when the store cannot list entries. */
  entries: { largest: Array<ListedEntry & { endpoint: string; hits: number }> | null; mostHit: Array<{ key: string; hits: number }> };
  /** When this answer was built (epoch ms). */
  at: number;
}

/** The dashboard handler, with a way to stop its sampler and listeners. */
export interface CacheDashboardHandler extends RequestHandler {
  /** Stops sampling and unsubscribes from the cache. */
  close(): void;
}

const MAX_BODY = 8 * 1024;

function readBody(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new InvalidOptionError('body', `over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A POST may only come from this page: browsers send `Sec-Fetch-Site` (must be `same-origin`)
 * or at least `Origin` (must be this host), so a form on another site cannot invalidate.
 */
function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = req.get('origin');
  return origin !== undefined && origin === `${req.protocol}://${req.get('host') ?? ''}`;
}

function send(res: Response, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  // Never cached by browsers or proxies: it is live data behind authorization.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  res.end(body);
}

function json(res: Response, status: number, data: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(data));
}

/**
 * A stats page for the cache, as Express middleware: mount it with `app.use`. It serves
 *
 * - `GET /` the page: hit rate over time per endpoint (an SVG chart drawn by the page itself,
 *   no CDN), outcome counts and the reasons behind uncacheable and bypassed requests, store
 *   health (breaker state, last error), the largest and most-hit entries where the store can
 *   list them (MemoryStore, Redis), and a form to invalidate a tag, scope or pattern;
 * - `GET /stats.json` the same data as JSON ({@link DashboardData});
 * - `POST /invalidate` (`kind` = `tag` | `scope` | `pattern`, `value`, optional `id`), same-origin
 *   only (checked with `Sec-Fetch-Site` / `Origin`).
 *
 * Every request is refused (403) unless `authorize(req)` returns true: the page lists keys and
 * can remove entries.
 *
 * @example
 * ```ts
 * import { cacheDashboard } from 'express-cache-kit/dashboard';
 * app.use('/_cache', cacheDashboard({ cache, authorize: (req) => req.get('x-admin-token') === process.env.ADMIN_TOKEN }));
 * ```
 */
export function cacheDashboard(options: CacheDashboardOptions): CacheDashboardHandler {
  if (options === null || typeof options !== 'object' || typeof (options as { cache?: Cache }).cache?.on !== 'function') {
    throw new InvalidOptionError('cache', 'cacheDashboard needs { cache }: the Cache to show (from createCache)');
  }
  const { cache, authorize } = options;
  if (authorize !== undefined && typeof authorize !== 'function') throw new InvalidOptionError('authorize', 'expected a function (req) => boolean');
  const sampleIntervalMs = options.sampleIntervalMs ?? 5_000;
  if (!Number.isFinite(sampleIntervalMs) || sampleIntervalMs < 10) throw new InvalidOptionError('sampleIntervalMs', 'expected milliseconds >= 10');
  const historySize = options.historySize ?? 120;
  if (!Number.isInteger(historySize) || historySize < 2) throw new InvalidOptionError('historySize', 'expected an integer >= 2');
  const scanLimit = options.scanLimit ?? 5_000;
  if (!Number.isInteger(scanLimit) || scanLimit < 1) throw new InvalidOptionError('scanLimit', 'expected a positive integer');

  const read = (): StatsSnapshot => statsOf(cache);
  read(); // attach the collector now, so counting starts with the dashboard
  const history = new History(read, sampleIntervalMs, historySize);
  history.start();
  const hot = new HotKeys();
  const offs = [hot.attach(cache)];
  let lastError: DashboardData['store']['lastError'] = null;
  let degradedSince: number | null = null;
  offs.push(cache.on('error', ({ error, operation }) => void (lastError = { message: error.message, operation, at: Date.now() })));
  offs.push(cache.on('degraded', () => void (degradedSince = Date.now())));
  offs.push(cache.on('recovered', () => void (degradedSince = null)));
  const breakerLayer = storeLayers(cache.store).find((layer) => typeof (layer as { degraded?: unknown }).degraded === 'boolean') as { degraded: boolean } | undefined;
  const strip = (key: string): string => (key.startsWith(cache.namespace) ? key.slice(cache.namespace.length) : key);

  const inventoryMs = Math.min(5_000, sampleIntervalMs);
  let inventory: { at: number; entries: Promise<ListedEntry[] | undefined> } | undefined;
  const largest = async (): Promise<DashboardData['entries']['largest']> => {
    if (inventory === undefined || Date.now() - inventory.at >= inventoryMs) {
      inventory = { at: Date.now(), entries: listEntries(cache.store, cache.namespace, scanLimit).catch(() => undefined) };
    }
    const entries = await inventory.entries;
    if (entries === undefined) return null;
    return [...entries]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10)
      .map((entry) => ({ ...entry, endpoint: endpointOfKey(entry.key), hits: hot.hitsOf(cache.namespace + entry.key) }));
  };
  const data = async (): Promise<DashboardData> => ({
    stats: read(),
    history: history.series(),
    store: { name: cache.store.name, breaker: breakerLayer === undefined ? 'none' : breakerLayer.degraded ? 'open' : 'closed', lastError, degradedSince },
    entries: { largest: await largest(), mostHit: hot.top(10).map(({ key, hits }) => ({ key: strip(key), hits })) },
    at: Date.now(),
  });

  const invalidate = async (req: Request, res: Response): Promise<void> => {
    const raw = await readBody(req);
    const type = req.get('content-type') ?? '';
    const fields: Record<string, string> = type.includes('json') ? (JSON.parse(raw || '{}') as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
    const kind = String(fields.kind ?? '');
    const value = String(fields.value ?? '').trim();
    const id = fields.id === undefined || String(fields.id).trim() === '' ? undefined : String(fields.id).trim();
    if (value === '') throw new InvalidOptionError('value', 'name the tag, scope or pattern to invalidate');
    let count: number;
    if (kind === 'tag') count = await cache.invalidateTags([value]);
    else if (kind === 'scope') count = await cache.invalidateScope(value, id);
    else if (kind === 'pattern') count = await cache.invalidatePattern(value);
    else throw new InvalidOptionError('kind', `expected tag, scope or pattern, got "${kind}"`);
    inventory = undefined;
    if ((req.get('accept') ?? '').includes('application/json')) json(res, 200, { kind, value, id, count });
    else send(res, 303, 'text/plain; charset=utf-8', `removed ${count}`, { Location: `${req.baseUrl}/?removed=${count}` });
  };

  const handle = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    let allowed = false;
    try {
      allowed = authorize !== undefined && (await authorize(req)) === true;
    } catch {
      allowed = false;
    }
    if (!allowed) {
      send(res, 403, 'text/plain; charset=utf-8', authorize === undefined ? 'Forbidden: cacheDashboard needs an authorize(req) option\n' : 'Forbidden\n');
      return;
    }
    const path = req.path;
    if ((path === '/' || path === '') && (req.method === 'GET' || req.method === 'HEAD')) {
      const nonce = randomBytes(16).toString('base64');
      send(res, 200, 'text/html; charset=utf-8', renderPage({ base: req.baseUrl, nonce, refreshMs: Math.max(1_000, sampleIntervalMs) }), {
        // Everything is inline and same-origin: nothing from a CDN, no framing.
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
        'X-Frame-Options': 'DENY',
      });
      return;
    }
    if (path === '/stats.json' && (req.method === 'GET' || req.method === 'HEAD')) {
      json(res, 200, await data());
      return;
    }
    if (path === '/invalidate') {
      if (req.method !== 'POST') {
        send(res, 405, 'text/plain; charset=utf-8', 'POST only\n', { Allow: 'POST' });
        return;
      }
      if (!sameOrigin(req)) {
        send(res, 403, 'text/plain; charset=utf-8', 'Forbidden: cross-origin invalidation\n');
        return;
      }
      try {
        await invalidate(req, res);
      } catch (error) {
        const status = error instanceof InvalidOptionError || error instanceof SyntaxError ? 400 : 500;
        const message = error instanceof CacheError || error instanceof SyntaxError ? error.message : 'invalidation failed';
        json(res, status, { error: message });
      }
      return;
    }
    next();
  };

  const handler = (req: Request, res: Response, next: NextFunction): void => {
    handle(req, res, next).catch(next);
  };
  return Object.assign(handler, {
    close(): void {
      history.stop();
      offs.splice(0).forEach((off) => off());
    },
  });
}
