import type { Request } from 'express';

/** The row of `stats()` (and the Prometheus label) of requests no route answered. */
export const UNMATCHED_ENDPOINT = '(unmatched)';

// Raw paths remembered with the route that answered them; cleared whole when full, so a flood
// of paths costs a relearn now and then, never memory.
const LEARNED_LIMIT = 10_000;

/**
 * The endpoint outcomes are reported under, for one `cacheResponse` instance. Mounted on a
 * route, or with a `keyPrefix`, it is the key's endpoint, as before. Mounted with `app.use`,
 * the route is not known when the middleware runs, and the raw path would give every invented
 * URL a row of its own (the first 200 paths would take every row for the life of the process):
 * there, an outcome is reported under the route that answered it (`req.baseUrl` plus
 * `req.route.path`, known once the handler ran), a hit under the route learned from an earlier
 * answer for the same path, and anything no route answered under {@link UNMATCHED_ENDPOINT}.
 * @internal
 */
export class EndpointLabels {
  private readonly learned = new Map<string, string>();

  constructor(private readonly keyPrefix: string | undefined) {}

  /** The label for a request whose key endpoint is `endpoint`. */
  of(req: Request, endpoint: string): string {
    if (this.keyPrefix !== undefined) return this.keyPrefix;
    const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
    if (routePath !== undefined) {
      const label = req.baseUrl + String(routePath);
      if (label !== endpoint && this.learned.get(endpoint) !== label) {
        if (this.learned.size >= LEARNED_LIMIT) this.learned.clear();
        this.learned.set(endpoint, label);
      }
      return label;
    }
    return this.learned.get(endpoint) ?? UNMATCHED_ENDPOINT;
  }
}
