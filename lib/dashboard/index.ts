import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Cache } from '../engine/cache';
import type { InvalidationTargets } from '../engine/invalidate';
import { CacheError, InvalidOptionError } from '../errors';
import { globToRegExp } from '../keys';
import { optionNames, rejectUnknownOptions } from '../validate';
import { HotKeys } from '../metrics/hot-keys';
import { storeLayers } from '../metrics/instrumented-store';
import { endpointOfKey } from '../metrics/endpoint';
import { type EntryView, viewEntry } from '../metrics/entry-view';
import { type ListedEntry, isInternalKey, listEntries } from '../metrics/inventory';
import { type StatsSnapshot, statsOf } from '../metrics/stats';
import { encodeEntry, formatSource } from '../serializer';
import { SESSION_COOKIE, Sessions, basicCredentials, bearerToken, readCookie, safeEqual, sameOrigin } from './auth';
import { History, type HistoryPoint } from './history';
import { renderLocked, renderPage, renderSignIn } from './page';

export type { HistoryPoint } from './history';
export type { ListedEntry } from '../metrics/inventory';
export type { EntryView } from '../metrics/entry-view';
export type { StatsSnapshot } from '../metrics/stats';

/** Options of {@link cacheDashboard}. */
export interface CacheDashboardOptions {
  /** The cache to show. */
  cache: Cache;
  /**
   * A shared secret (at least 16 characters) for signing in from a browser: `GET /login` shows a
   * form, and the token is exchanged for an HttpOnly, `SameSite=Strict` session cookie scoped to
   * the dashboard's path (`Secure` over HTTPS). Scripts and the CLI may send it as
   * `Authorization: Bearer <token>` instead. Sessions are signed with the token, so every process
   * sharing it accepts them, and changing it signs everyone out. `undefined` counts as not given
   * (so `token: process.env.CACHE_DASHBOARD_TOKEN` with the variable unset keeps the page locked).
   */
  token?: string | undefined;
  /**
   * HTTP Basic credentials: the browser asks for them itself (`WWW-Authenticate: Basic`). Use
   * over HTTPS only: the browser resends them with every request.
   */
  basic?: { username: string; password: string } | undefined;
  /**
   * Decides who may come in from the request itself (your own session, a VPN header set by your
   * proxy...): only a result of exactly `true` lets `req` in; `1`, `'yes'` or a thrown error do
   * not. Combined with `token` and `basic`, any one of them admits a request.
   *
   * Without `token`, `basic` or `authorize` every request is refused (403, with a page that says
   * how to enable it), because the page lists URLs and can remove entries.
   */
  authorize?: (req: Request) => boolean | Promise<boolean>;
  /**
   * How long a token sign-in lasts, in ms.
   * @default 28_800_000 (8 hours)
   */
  sessionTtlMs?: number;
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
  /**
   * Entries by size and by hits; `largest` is `null` when the store cannot list entries. `url` is
   * the request a stored response answered (`GET /search?q=1`), absent for values and for
   * entries stored without it.
   */
  entries: { largest: Array<ListedEntry & { endpoint: string; hits: number; url?: string }> | null; mostHit: Array<{ key: string; hits: number; url?: string }> };
  /** When this answer was built (epoch ms). */
  at: number;
}

/** What `/entries.json` answers: one page of entries, sorted by key. */
export interface DashboardEntriesPage {
  entries: Array<ListedEntry & { endpoint: string; url?: string }>;
  /** Pass as `cursor` for the next page; `null` on the last one. */
  cursor: string | null;
  /** Entries matching the pattern (among the first `scanLimit` of the store). */
  total: number;
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

function send(res: Response, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  // Never cached by browsers or proxies: it is live data behind authorization.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  res.end(body);
}

/** An HTML page under the dashboard's CSP: `render` gets the nonce its style and script need. */
function html(res: Response, status: number, render: (nonce: string) => string, extra: Record<string, string> = {}): void {
  const nonce = randomBytes(16).toString('base64');
  send(res, status, 'text/html; charset=utf-8', render(nonce), { ...pageHeaders(nonce), ...extra });
}

function json(res: Response, status: number, data: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(data));
}

/** Whether the client wants JSON back: it sent JSON, or asked for it. */
function wantsJson(req: Request): boolean {
  return /json/i.test(req.get('content-type') ?? '') || /application\/json/i.test(req.get('accept') ?? '');
}

async function readFields(req: Request): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (/json/i.test(req.get('content-type') ?? '')) {
    const parsed = JSON.parse(raw || '{}') as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidOptionError('body', 'expected a JSON object');
    return parsed as Record<string, unknown>;
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

let lockedWarned = false;

/**
 * A stats page for the cache, as Express middleware: mount it with `app.use`. It serves
 *
 * - `GET /` the page: hit rate over time per endpoint (an SVG chart drawn by the page itself,
 *   no CDN), outcome counts and the reasons behind uncacheable and bypassed requests, store
 *   health (breaker state, last error), the largest and most-hit entries with the URL each
 *   answers (`GET /path?query`, where the store can list them: memory, Redis), and a form to
 *   invalidate a tag, scope or pattern;
 * - `GET /login`, `POST /login` (`token`), `POST /logout`: the token sign-in, when `token` is set;
 * - a JSON API: `GET /stats.json` ({@link DashboardData}), `GET /entries.json?pattern=&limit=&cursor=`
 *   ({@link DashboardEntriesPage}), `GET /entry.json?key=` ({@link EntryView}), and
 *   `POST /invalidate` (`kind` = `tag` | `scope` | `pattern`, `value`, optional `id`) which
 *   answers JSON to JSON (an HTML form post without script is redirected back to the page).
 *
 * Who gets in: a browser signed in with `token`, a request with `Authorization: Bearer <token>`,
 * HTTP Basic with `basic`, or a request `authorize(req)` answers exactly `true` for. Without any
 * of them every request is refused with a page saying how to enable it (and a warning is emitted
 * once when it is mounted). POSTs are accepted from the page's own origin only (`Sec-Fetch-Site`
 * / `Origin`), or from non-browser clients sending JSON.
 *
 * @example
 * ```ts
 * import { cacheDashboard } from 'express-cache-kit/dashboard';
 * // Open /_cache/ in a browser, sign in with the token; the CLI sends it as a bearer token.
 * app.use('/_cache', cacheDashboard({ cache, token: process.env.CACHE_DASHBOARD_TOKEN }));
 * ```
 */
export function cacheDashboard(options: CacheDashboardOptions): CacheDashboardHandler {
  if (options === null || typeof options !== 'object' || typeof (options as { cache?: Cache }).cache?.on !== 'function') {
    throw new InvalidOptionError('cache', 'cacheDashboard needs { cache }: the Cache to show (from createCache)');
  }
  rejectUnknownOptions('cacheDashboard', options, DASHBOARD_OPTION_NAMES);
  const { cache, authorize, token, basic } = options;
  if (authorize !== undefined && typeof authorize !== 'function') throw new InvalidOptionError('authorize', 'expected a function (req) => boolean');
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new InvalidOptionError('token', "expected a secret of at least 16 characters, e.g. crypto.randomBytes(24).toString('base64url')");
  }
  if (basic !== undefined && (basic === null || typeof basic !== 'object' || typeof basic.username !== 'string' || basic.username === '' || basic.username.includes(':') || typeof basic.password !== 'string' || basic.password.length < 8)) {
    throw new InvalidOptionError('basic', 'expected { username, password }: a username without ":" and a password of at least 8 characters');
  }
  const sessionTtlMs = options.sessionTtlMs ?? 8 * 3_600_000;
  if (!Number.isFinite(sessionTtlMs) || sessionTtlMs < 60_000) throw new InvalidOptionError('sessionTtlMs', 'expected milliseconds >= 60000');
  const sampleIntervalMs = options.sampleIntervalMs ?? 5_000;
  if (!Number.isFinite(sampleIntervalMs) || sampleIntervalMs < 10) throw new InvalidOptionError('sampleIntervalMs', 'expected milliseconds >= 10');
  const historySize = options.historySize ?? 120;
  if (!Number.isInteger(historySize) || historySize < 2) throw new InvalidOptionError('historySize', 'expected an integer >= 2');
  const scanLimit = options.scanLimit ?? 5_000;
  if (!Number.isInteger(scanLimit) || scanLimit < 1) throw new InvalidOptionError('scanLimit', 'expected a positive integer');
  const locked = authorize === undefined && token === undefined && basic === undefined;
  if (locked && !lockedWarned) {
    lockedWarned = true;
    process.emitWarning('cacheDashboard has no token, basic or authorize option: every request to it is refused (403). Pass cacheDashboard({ cache, token: process.env.CACHE_DASHBOARD_TOKEN }) to sign in from a browser.', {
      code: 'CACHE_DASHBOARD_LOCKED',
    });
  }
  const sessions = token === undefined ? undefined : new Sessions(token, sessionTtlMs);

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
  const strip = (key: string): string => (key.startsWith(cache.namespacePrefix) ? key.slice(cache.namespacePrefix.length) : key);

  // The URL an entry answers, read from the entry (keys are hashes). A key's URL does not change
  // (the key is derived from it), so answers are remembered, in a bounded map.
  const urls = new Map<string, string | null>();
  const urlOf = async (key: string): Promise<string | undefined> => {
    const known = urls.get(key);
    if (known !== undefined) return known ?? undefined;
    let url: string | null = null;
    try {
      const found = await cache.peek(key, 86_400_000);
      if (found?.entry.kind === 'response') url = formatSource(found.entry.source) ?? null;
    } catch {
      return undefined; // a store failure: try again next time
    }
    if (urls.size >= 10_000) urls.clear();
    urls.set(key, url);
    return url ?? undefined;
  };
  const withUrl = async <T extends { key: string }>(rows: T[]): Promise<Array<T & { url?: string }>> =>
    Promise.all(rows.map(async (row) => {
      const url = isInternalKey(row.key) ? undefined : await urlOf(row.key);
      return url === undefined ? row : { ...row, url };
    }));

  const inventoryMs = Math.min(5_000, sampleIntervalMs);
  let inventory: { at: number; entries: Promise<ListedEntry[] | undefined> } | undefined;
  // The page's refreshes share one listing per interval (a SCAN on Redis); the entries API,
  // asked on purpose, lists afresh.
  const listed = (fresh = false): Promise<ListedEntry[] | undefined> => {
    if (fresh || inventory === undefined || Date.now() - inventory.at >= inventoryMs) {
      inventory = { at: Date.now(), entries: listEntries(cache.store, cache.namespacePrefix, scanLimit).catch(() => undefined) };
    }
    return inventory.entries;
  };
  const largest = async (): Promise<DashboardData['entries']['largest']> => {
    const entries = await listed();
    if (entries === undefined) return null;
    const top = [...entries]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10)
      .map((entry) => ({ ...entry, endpoint: endpointOfKey(entry.key), hits: hot.hitsOf(cache.namespacePrefix + entry.key) }));
    return withUrl(top);
  };
  const data = async (): Promise<DashboardData> => ({
    stats: read(),
    history: history.series(),
    store: { name: cache.store.name, breaker: breakerLayer === undefined ? 'none' : breakerLayer.degraded ? 'open' : 'closed', lastError, degradedSince },
    entries: { largest: await largest(), mostHit: await withUrl(hot.top(10).map(({ key, hits }) => ({ key: strip(key), hits }))) },
    at: Date.now(),
  });

  const entriesPage = async (req: Request): Promise<DashboardEntriesPage | undefined> => {
    const query = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');
    const pattern = query.get('pattern') || '*';
    const limit = Number(query.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new InvalidOptionError('limit', 'expected an integer from 1 to 1000');
    const cursor = query.get('cursor') ?? '';
    const entries = await listed(cursor === '');
    if (entries === undefined) return undefined;
    const matcher = globToRegExp(pattern);
    const matching = entries.filter((entry) => matcher.test(entry.key)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    // Keyset paging: the cursor is the last key shown, so a page never repeats or skips one
    // because entries came or went in between.
    const from = cursor === '' ? 0 : matching.findIndex((entry) => entry.key > cursor);
    const page = from === -1 ? [] : matching.slice(from, from + limit);
    const last = page[page.length - 1];
    const more = from !== -1 && from + limit < matching.length;
    return { entries: await withUrl(page.map((entry) => ({ ...entry, endpoint: endpointOfKey(entry.key) }))), cursor: more && last !== undefined ? last.key : null, total: matching.length };
  };

  const entry = async (req: Request): Promise<EntryView | undefined> => {
    const key = new URLSearchParams(req.originalUrl.slice(req.originalUrl.indexOf('?') + 1)).get('key');
    if (!req.originalUrl.includes('?') || key === null || key === '') throw new InvalidOptionError('key', 'name the entry: entry.json?key=character:char_1');
    // A lock or a tag index is not an entry; reading one as an entry would even delete it (an
    // entry that does not decode is removed).
    if (isInternalKey(key)) return undefined;
    const found = await cache.peek(key, 86_400_000);
    if (found === undefined) return undefined;
    const listedEntry = (await listed())?.find((e) => e.key === key);
    const bytes = listedEntry?.bytes ?? encodeEntry(found.entry).length;
    return viewEntry(found.entry, key, bytes, listedEntry?.ttlMs ?? -1);
  };

  const invalidate = async (req: Request, res: Response): Promise<void> => {
    const fields = await readFields(req);
    const text = (name: string): string => (fields[name] === undefined || fields[name] === null ? '' : String(fields[name]).trim());
    const kind = text('kind');
    const value = text('value');
    const id = text('id') === '' ? undefined : text('id');
    if (value === '') throw new InvalidOptionError('value', 'name the tag, scope or pattern to invalidate');
    let targets: InvalidationTargets;
    if (kind === 'tag') targets = { tags: [value] };
    else if (kind === 'scope') targets = { scopes: [id === undefined ? value : [value, id]] };
    else if (kind === 'pattern') targets = { patterns: [value] };
    else throw new InvalidOptionError('kind', `expected tag, scope or pattern, got "${kind}"`);
    // `pending`: the store could not take it now; it is journaled and applied when the store is back.
    const { removed: count, pending } = await cache.invalidate(targets);
    inventory = undefined;
    urls.clear();
    if (wantsJson(req)) json(res, 200, { kind, value, id, count, pending });
    else send(res, 303, 'text/plain; charset=utf-8', `removed ${count}${pending ? ' (pending)' : ''}`, { Location: `${req.baseUrl}/?removed=${count}${pending ? '&pending=1' : ''}` });
  };

  const cookiePath = (req: Request): string => `${req.baseUrl}/`;
  const signedIn = (req: Request): boolean => {
    if (basic !== undefined) {
      const given = basicCredentials(req);
      // Both compared, always: the time taken must not say which one was wrong.
      if (given !== undefined && safeEqual(given.username, basic.username) && safeEqual(given.password, basic.password)) return true;
    }
    if (sessions !== undefined && token !== undefined) {
      const bearer = bearerToken(req);
      if (bearer !== undefined && safeEqual(bearer, token)) return true;
      if (sessions.valid(readCookie(req, SESSION_COOKIE), cookiePath(req))) return true;
    }
    return false;
  };

  const setSession = (req: Request, res: Response, value: string, maxAge: number): void => {
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=${cookiePath(req)}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${req.secure ? '; Secure' : ''}`);
  };

  const signIn = async (req: Request, res: Response): Promise<void> => {
    const fields = await readFields(req);
    const given = String(fields.token ?? '');
    if (sessions === undefined || token === undefined || !safeEqual(given, token)) {
      if (wantsJson(req)) json(res, 401, { error: 'wrong token' });
      else html(res, 401, (nonce) => renderSignIn({ base: req.baseUrl, nonce, error: 'Wrong token.' }));
      return;
    }
    setSession(req, res, sessions.issue(cookiePath(req)), sessions.maxAgeSeconds);
    if (wantsJson(req)) json(res, 200, { signedIn: true });
    else send(res, 303, 'text/plain; charset=utf-8', 'signed in', { Location: `${req.baseUrl}/` });
  };

  /** The answer to a request that is not let in: a sign-in, a Basic challenge, or how to enable it. */
  const refuse = (req: Request, res: Response): void => {
    const api = req.path !== '/' && req.path !== '' && req.path !== '/login';
    const challenge: Record<string, string> = basic !== undefined ? { 'WWW-Authenticate': 'Basic realm="cache dashboard", charset="UTF-8"' } : token !== undefined ? { 'WWW-Authenticate': 'Bearer realm="cache dashboard"' } : {};
    if (locked) {
      const message = 'cacheDashboard needs a token, basic or authorize option to let anyone in';
      if (api || wantsJson(req)) json(res, 403, { error: message });
      else html(res, 403, (nonce) => renderLocked({ reason: 'locked', nonce }));
      return;
    }
    if (token === undefined && basic === undefined) {
      // Only authorize: it said no, and there is no way to sign in here.
      if (api || wantsJson(req)) json(res, 403, { error: 'Forbidden: authorize(req) did not return true' });
      else html(res, 403, (nonce) => renderLocked({ reason: 'refused', nonce }));
      return;
    }
    if (api || wantsJson(req)) {
      send(res, 401, 'application/json; charset=utf-8', JSON.stringify({ error: token !== undefined ? `sign in at ${req.baseUrl}/login, or send Authorization: Bearer <token>` : 'send HTTP Basic credentials' }), challenge);
      return;
    }
    if (token !== undefined) html(res, 401, (nonce) => renderSignIn({ base: req.baseUrl, nonce }), challenge);
    else html(res, 401, (nonce) => renderLocked({ reason: 'basic', nonce }), challenge);
  };

  const handle = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const path = req.path;
    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (req.method === 'POST' && !sameOrigin(req)) {
      // Checked before anything else: a cross-site post learns nothing, not even the sign-in state.
      json(res, 403, { error: 'Forbidden: cross-origin POST (send it from the dashboard page, or as JSON from a script)' });
      return;
    }
    if (token !== undefined && path === '/login') {
      if (isGet) html(res, 200, (nonce) => renderSignIn({ base: req.baseUrl, nonce }));
      else if (req.method === 'POST') await signIn(req, res).catch((error: unknown) => json(res, 400, { error: error instanceof CacheError || error instanceof SyntaxError ? error.message : 'bad sign-in request' }));
      else send(res, 405, 'text/plain; charset=utf-8', 'GET or POST only\n', { Allow: 'GET, POST' });
      return;
    }
    if (token !== undefined && path === '/logout' && req.method === 'POST') {
      setSession(req, res, '', 0);
      if (wantsJson(req)) json(res, 200, { signedIn: false });
      else send(res, 303, 'text/plain; charset=utf-8', 'signed out', { Location: `${req.baseUrl}/login` });
      return;
    }
    let allowed = signedIn(req);
    if (!allowed && authorize !== undefined) {
      try {
        allowed = (await authorize(req)) === true;
      } catch {
        allowed = false;
      }
    }
    if (!allowed) {
      refuse(req, res);
      return;
    }
    if ((path === '/' || path === '') && isGet) {
      html(res, 200, (nonce) => renderPage({ base: req.baseUrl, nonce, refreshMs: Math.max(1_000, sampleIntervalMs), signOut: token !== undefined }));
      return;
    }
    try {
      if (path === '/stats.json' && isGet) {
        json(res, 200, await data());
        return;
      }
      if (path === '/entries.json' && isGet) {
        const page = await entriesPage(req);
        if (page === undefined) json(res, 501, { error: `store "${cache.store.name}" cannot list its entries` });
        else json(res, 200, page);
        return;
      }
      if (path === '/entry.json' && isGet) {
        const view = await entry(req);
        if (view === undefined) json(res, 404, { error: 'no such entry' });
        else json(res, 200, view);
        return;
      }
      if (path === '/invalidate') {
        if (req.method !== 'POST') {
          send(res, 405, 'application/json; charset=utf-8', JSON.stringify({ error: 'POST only' }), { Allow: 'POST' });
          return;
        }
        await invalidate(req, res);
        return;
      }
    } catch (error) {
      const status = error instanceof InvalidOptionError || error instanceof SyntaxError ? 400 : 500;
      const message = error instanceof CacheError || error instanceof SyntaxError ? error.message : 'request failed';
      json(res, status, { error: message });
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

/** Headers of every HTML page: nothing from elsewhere, no framing; scripts and styles only with the nonce. */
function pageHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
  };
}

const DASHBOARD_OPTION_NAMES = optionNames<CacheDashboardOptions>({ cache: true, token: true, basic: true, authorize: true, sessionTtlMs: true, sampleIntervalMs: true, historySize: true, scanLimit: true });
