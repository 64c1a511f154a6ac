import type { Request } from 'express';
import { escapeScopeId } from '../keys';

/**
 * Which route parameters identify the scoped item: a parameter name, or a function of the
 * route's parameters returning one id or several (`undefined` or `[]` for none).
 *
 * @example
 * ```ts
 * cacheResponse({ keyPrefix: 'character', scopeParam: 'characterId' });
 * cacheResponse({ scope: 'character', scopeParam: (params) => [params.a, params.b] });
 * ```
 */
export type ScopeParam = string | ((params: Readonly<Record<string, string | undefined>>) => string | number | ReadonlyArray<string | number> | undefined);

/** The resolved scoping of one `cacheResponse` route. @internal */
export interface RouteScoping {
  /** The scope name (`character`), or undefined when answers are not scoped. */
  scope: string | undefined;
  /** The parameter rule; undefined means the route's first parameter. */
  param: ScopeParam | undefined;
}

/**
 * Whether a `keyPrefix` names a scope: a plain name such as `character` or `content_metadata`.
 * Prefixes with separators or globs (`api/v2`, `status:*`) are endpoint names, not scopes.
 */
export function namesScope(keyPrefix: string | undefined): keyPrefix is string {
  return keyPrefix !== undefined && /^[A-Za-z0-9_-]+$/.test(keyPrefix);
}

function ids(value: unknown): string[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  return list.filter((id): id is string | number => (typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id))).map(String);
}

/**
 * The tags `{scope}:{id}` a route answer gets from its parameters (the id escaped with
 * `escapeScopeId`): with no `scopeParam`, the
 * route's first parameter (`/characters/:id` → `character:1`); with a name, that parameter;
 * with a function, each id it returns. No scope, no parameter or an empty value: no tags.
 * This is what lets `invalidateScope('character', '1')` (and `invalidateCharacterCache('1')`)
 * reach `/characters/1` with every query string and Vary variant.
 *
 * @example
 * ```ts
 * scopeTags({ scope: 'character', param: undefined }, { id: '1' }); // ['character:1']
 * scopeTags({ scope: 'team', param: (p) => [p.a, p.b] }, { a: 'x', b: 'y' }); // ['team:x', 'team:y']
 * ```
 */
export function scopeTags(scoping: RouteScoping, params: Readonly<Record<string, string | undefined>> | undefined): string[] {
  if (scoping.scope === undefined || params === undefined || params === null) return [];
  const { param } = scoping;
  let found: unknown;
  if (param === undefined) {
    // Express fills req.params in route order, so the first own key is the route's first parameter.
    const first = Object.keys(params)[0];
    found = first === undefined ? undefined : params[first];
  } else if (typeof param === 'string') {
    found = params[param];
  } else {
    found = param(params);
  }
  // Escaped as the invalidation helpers escape ids (`a:b` → `a%3Ab`), so every tagged id can be reached.
  return [...new Set(ids(found))].map((id) => `${scoping.scope}:${escapeScopeId(id)}`);
}

/**
 * Every tag a route answer is stored with: the route's own `tags(req)` plus its scope tags.
 * Throws when `tags` throws (the caller then leaves the answer uncached).
 *
 * @example
 * ```ts
 * const tags = routeTags(opts, req); // ['leaderboard', 'character:1']
 * ```
 */
export function routeTags(
  opts: { tags: ((req: Request) => readonly string[]) | undefined; scoping: RouteScoping },
  req: Request,
): readonly string[] | undefined {
  const own = opts.tags?.(req);
  const scoped = scopeTags(opts.scoping, req.params as Record<string, string | undefined> | undefined);
  if (scoped.length === 0) return own;
  return own === undefined ? scoped : [...own, ...scoped];
}
