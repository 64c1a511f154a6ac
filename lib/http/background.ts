import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { Cache } from '../engine/cache';
import type { RefreshOutcome, RefreshTrigger } from '../engine/events';
import type { FillResult } from '../engine/fill';
import { refreshOutcome } from '../engine/wrap';
import { type RequestListener, type SyntheticRequest, dispatch } from '../refresh/dispatch';

// The "background refresh" stage: a request no client waits for, run through the same app and
// route, so the route's own middleware stack and handler produce the new answer and the cache
// middleware stores it through the fill protocol (the fill lock makes it one refresh per key
// across processes). Used after a stale answer, ahead of expiry and on a schedule.

const MARK = Symbol('express-cache-kit.refresh');

/** What a refresh request carries, so the cache middleware it reaches knows it has no client. */
export interface RefreshMark {
  readonly trigger: RefreshTrigger;
  /** Set by the cache middleware that took the request. */
  taken: boolean;
  /** Called once by that middleware with the key and how its fill ended. */
  settle(key: string, endpoint: string, result: FillResult<unknown> | RefreshOutcome): void;
}

// Refreshes under way in this process. A client's request is never marked, and reading a missing
// symbol off an Express request walks its whole prototype chain (about a microsecond under load),
// so with none under way the hit path does not look.
let refreshesRunning = 0;

/** The mark of a refresh request; undefined for a client's request. */
export function refreshMarkOf(req: Request): RefreshMark | undefined {
  if (refreshesRunning === 0) return undefined;
  return (req as unknown as { [MARK]?: RefreshMark })[MARK];
}

/**
 * Request headers never sent on a refresh: the client's conditions and ranges (the stored
 * entry's validators are sent instead), its cache directives, body framing and connection
 * headers, and its credentials unless the route keys or shares answers by them.
 */
const NOT_FORWARDED = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'cache-control',
  'pragma',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
]);

/** Whether a refresh may carry the client's credentials (the route keys or shares answers by them). */
export interface Credentials {
  cookie: boolean;
  authorization: boolean;
}

/** The headers a refresh of `headers`' request sends: the ones the key and `Vary` can depend on. */
export function refreshHeaders(headers: IncomingHttpHeaders, credentials: Credentials): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    if (name === 'cookie' && !credentials.cookie) continue;
    if (name === 'authorization' && !credentials.authorization) continue;
    kept[name] = value;
  }
  return kept;
}

/** The app at the top of the mount chain, which `originalUrl` is relative to. */
export function rootApp(req: Request): RequestListener {
  let app = req.app as unknown as { parent?: unknown };
  while (typeof app.parent === 'function') app = app.parent as { parent?: unknown };
  return app as unknown as RequestListener;
}

/** How a refresh ended. */
export interface RefreshReport {
  /** The key the refresh filled (without namespace); absent when no cached route took it. */
  key?: string;
  endpoint?: string;
  outcome: RefreshOutcome;
  durationMs: number;
  /** The status of the app's answer (0: none). */
  status: number;
}

/** How long a refresh waits for its fill to settle once the app answered, in ms. */
const SETTLE_WAIT_MS = 30_000;

/**
 * Runs one refresh request through `app` and reports it as a `refresh` event on `cache`.
 * Never rejects.
 * @internal
 */
export async function runRefresh(cache: Cache, app: RequestListener, request: SyntheticRequest, trigger: RefreshTrigger): Promise<RefreshReport> {
  const started = performance.now();
  let settled: { key: string; endpoint: string; outcome: RefreshOutcome } | undefined;
  let release: () => void = () => undefined;
  const settling = new Promise<void>((resolve) => (release = resolve));
  const mark: RefreshMark = {
    trigger,
    taken: false,
    settle(key, endpoint, result) {
      settled ??= { key, endpoint, outcome: typeof result === 'string' ? result : refreshOutcome(result) };
      release();
    },
  };
  let status: number;
  // Counted until the fill has settled too: the middleware may still read the mark after the app answered.
  refreshesRunning++;
  try {
    status = await dispatch(app, request, (req: IncomingMessage) => {
      (req as unknown as { [MARK]: RefreshMark })[MARK] = mark;
    });
    if (mark.taken && settled === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settling, new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS).unref()))]);
      clearTimeout(timer);
    }
  } finally {
    refreshesRunning--;
  }
  const outcome: RefreshOutcome = settled?.outcome ?? (status === 0 ? 'failed' : 'not-stored');
  const report: RefreshReport = { key: settled?.key, endpoint: settled?.endpoint, outcome, durationMs: performance.now() - started, status };
  cache.reportRefresh({ key: report.key, endpoint: report.endpoint, trigger, outcome, durationMs: report.durationMs });
  return report;
}

// Keys with a stale or refresh-ahead refresh running in this process, per cache.
const running = new WeakMap<Cache, Set<string>>();

/**
 * Starts one refresh of `req`'s URL in the background unless one for `key` is running in this
 * process (another process's is excluded by the fill lock the refresh takes).
 */
export function refreshInBackground(cache: Cache, req: Request, key: string, credentials: Credentials, trigger: RefreshTrigger): void {
  let keys = running.get(cache);
  if (keys === undefined) running.set(cache, (keys = new Set()));
  if (keys.has(key) || cache.isClosed) return;
  keys.add(key);
  const request: SyntheticRequest = { method: 'GET', url: req.originalUrl, headers: refreshHeaders(req.headers, credentials) };
  const app = rootApp(req);
  const own = keys;
  // After this tick: the client's answer goes out first; the refresh is detached from it.
  setImmediate(() => {
    void runRefresh(cache, app, request, trigger).finally(() => own.delete(key));
  });
}
