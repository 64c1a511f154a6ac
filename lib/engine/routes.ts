import type { KnownRoute } from './events';

// What a scope invalidation could have reached. A scope reaches route answers only through the
// exact name a route declares (`keyPrefix` or `scope`), and query entries only through keys
// starting with it, so an invalidation under another name removes nothing, silently. These
// records let the cache say so. Bounded: a flood of endpoints or key prefixes costs a
// forgotten name (a warning not given), never memory.
const LIMIT = 1_000;

/** Adds `value` to a bounded set, dropping the oldest entry when full. */
function addBounded<T>(set: Set<T>, value: T): void {
  if (set.has(value)) return;
  if (set.size >= LIMIT) {
    const oldest = set.values().next();
    if (oldest.done !== true) set.delete(oldest.value);
  }
  set.add(value);
}

// Scopes declared when a middleware or a decorator is made: the cache it will use is not known
// yet (the default one is resolved per request), so they count for every cache in the process.
const declaredScopes = new Set<string>();

/**
 * Records that a route or decorator made in this process uses `scope`, so invalidating it
 * before anything was cached is not reported as unreached.
 * @internal
 */
export function declareScope(scope: string | undefined): void {
  if (scope !== undefined) addBounded(declaredScopes, scope);
}

/**
 * The routes and key prefixes one cache has seen, per process.
 * @internal
 */
export class RouteRecords {
  private readonly routes = new Map<string, KnownRoute>();
  private readonly prefixes = new Set<string>();
  private readonly warned = new Set<string>();
  /** Whether a route asked for `debug` (reasons on answers): it gets the warning logged too. */
  debug = false;

  /** A route's endpoint (and scope) seen answering through this cache. */
  noteRoute(endpoint: string, scope: string | undefined, debug: boolean): void {
    if (debug) this.debug = true;
    const known = this.routes.get(endpoint);
    if (known !== undefined && known.scope === scope) return;
    if (known === undefined && this.routes.size >= LIMIT) {
      const oldest = this.routes.keys().next();
      if (oldest.done !== true) this.routes.delete(oldest.value);
    }
    this.routes.set(endpoint, scope === undefined ? { endpoint } : { endpoint, scope });
  }

  /** A key written through the cache (`set`, `wrap`): its first segment can be a scope. */
  noteKey(key: string): void {
    const colon = key.indexOf(':');
    if (colon > 0) addBounded(this.prefixes, key.slice(0, colon));
  }

  /** Whether anything in this process uses `scope`. */
  uses(scope: string): boolean {
    if (declaredScopes.has(scope) || this.prefixes.has(scope)) return true;
    for (const route of this.routes.values()) if (route.scope === scope || route.endpoint === scope) return true;
    return false;
  }

  /** The routes seen, for the warning. */
  known(): readonly KnownRoute[] {
    return [...this.routes.values()];
  }

  /** True the first time `scope` is reported (once per scope and cache). */
  firstWarning(scope: string): boolean {
    if (this.warned.has(scope)) return false;
    addBounded(this.warned, scope);
    return true;
  }
}

/**
 * The message of a `scope-unreached` warning: what exists, and the option that connects a route
 * to the scope.
 * @internal
 */
export function unreachedMessage(scope: string, routes: readonly KnownRoute[]): string {
  const head = `invalidating scope '${scope}' removed nothing, and no route, decorator or key in this process uses that scope`;
  const fix = `give the route keyPrefix: '${scope}' or scope: '${scope}' (on a route with an :id parameter) so the invalidation reaches its answers`;
  if (routes.length === 0) return `${head}; ${fix}`;
  const shown = routes.slice(0, 10).map((route) => (route.scope === undefined ? `${route.endpoint} (no scope)` : `${route.endpoint} (scope '${route.scope}')`));
  const more = routes.length > 10 ? ` and ${routes.length - 10} more` : '';
  return `${head}. Routes cached here: ${shown.join(', ')}${more}; ${fix}`;
}
