import { distance } from 'fastest-levenshtein';
import { InvalidOptionError } from './errors';
import { escapeScopeId } from './keys';

// Shared validators for options resolvers. Each names the option it rejects, so the error tells
// the user exactly what to change. Owners (stores, the engine, the middleware) call these when
// they resolve their own options; nothing here knows any owner.

/** Throws unless `value` is a plain options object. @internal */
export function plainObject(option: string, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(option, `expected an options object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
}

/** A positive integer, or `fallback` when undefined. @internal */
export function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `expected a positive integer, got ${String(value)}`);
  }
  return value;
}

/** An integer >= 0, or `fallback` when undefined. @internal */
export function nonNegativeInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `expected an integer >= 0, got ${String(value)}`);
  }
  return value;
}

/** Validates each field of `given` against the positive-integer `defaults` of the same names. @internal */
export function positiveIntegers<T extends Readonly<Record<string, number>>>(
  option: string,
  given: Partial<Record<keyof T, unknown>> | undefined,
  defaults: T,
): { [K in keyof T]: number } {
  const resolved: Record<string, number> = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    resolved[name] = positiveInteger(`${option}.${name}`, given?.[name as keyof T], fallback);
  }
  return resolved as { [K in keyof T]: number };
}

/** A non-empty string, or undefined. @internal */
export function optionalString(option: string, value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new InvalidOptionError(option, `expected a non-empty string, got ${String(value)}`);
  }
  return value;
}

/** A boolean, or `fallback` when undefined. @internal */
export function optionalBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, `expected a boolean, got ${String(value)}`);
  return value;
}

/** A finite number of seconds >= 0 (0 when undefined). @internal */
export function nonNegativeSeconds(option: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, `expected a number of seconds >= 0, got ${String(value)}`);
  }
  return value;
}

/** A list of tags: an array of non-empty strings, or undefined. @internal */
export function resolveTags(option: string, tags: unknown): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === '')) {
    throw new InvalidOptionError(option, 'expected an array of non-empty strings');
  }
  return tags as readonly string[];
}

/**
 * A scope name (`character`, `content`, ...) and an optional id within it, the id escaped with
 * `escapeScopeId` (`a:b` → `a%3Ab`): a scope's keys are `{scope}:{id}` and its sub-keys
 * `{scope}:{id}:…`, so an id written with its `:` would be a sub-key of another id. Route answers
 * are tagged with the same escaping, so every id a route cached can be invalidated.
 * @internal
 */
export function resolveScope(scope: unknown, id: unknown): { scope: string; id: string | undefined } {
  if (typeof scope !== 'string' || scope === '') throw new InvalidOptionError('scope', `expected a non-empty string, got ${String(scope)}`);
  if (id === undefined) return { scope, id: undefined };
  if ((typeof id !== 'string' || id === '') && (typeof id !== 'number' || !Number.isFinite(id))) {
    throw new InvalidOptionError('id', `expected a non-empty string or a finite number, got ${String(id)}`);
  }
  return { scope, id: escapeScopeId(String(id)) };
}

/** Whether `a` becomes `b` by swapping one pair of adjacent characters. */
function swapsOnce(a: string, b: string): boolean {
  if (a.length !== b.length || a === b) return false;
  let i = 0;
  while (a[i] === b[i]) i++;
  return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
}

/**
 * The candidate closest to `name` when it is near enough to be a typo of it (case ignored, about
 * one edit per three characters, a swap of two neighbours counting as one), else undefined. Used for "did you mean" hints.
 * @internal
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    // Two swapped neighbours ('sfot', 'tagz' aside) are one slip of the fingers, not two edits.
    const d = swapsOnce(lower, other) ? 1 : distance(lower, other);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Further than that, a suggestion is noise: 'maxSize' is not a typo of 'maxBytes'.
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * The option names of an options interface `T`, as a list checked by the compiler: the argument
 * must name every key of `T` and nothing else, so an option added to the interface fails to
 * compile until its resolver knows the name (and {@link rejectUnknownOptions} accepts it).
 *
 * @example
 * ```ts
 * const KNOWN = optionNames<MemoryStoreOptions>({ maxEntries: true, maxBytes: true });
 * ```
 * @internal
 */
export function optionNames<T extends object>(names: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(names));
}

/**
 * Throws {@link InvalidOptionError} for the first own key of `options` that is not in `known`,
 * naming the owner and the closest known name: JavaScript callers (and TypeScript ones passing
 * a variable rather than a literal) get no compile-time check, and a misspelled option would
 * otherwise be silently ignored. `prefix` names a nested object (`'breaker.'`).
 *
 * @example
 * ```ts
 * rejectUnknownOptions('cacheResponse', { tll: 5 }, ['ttl', 'keyPrefix']);
 * // InvalidOptionError: option "tll": unknown option 'tll' of cacheResponse; did you mean 'ttl'?
 * ```
 * @internal
 */
export function rejectUnknownOptions(owner: string, options: object, known: readonly string[], prefix = ''): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const guess = closestName(name, known);
    const hint = guess === undefined ? `known options: ${known.join(', ')}` : `did you mean '${guess}'?`;
    throw new InvalidOptionError(prefix + name, `unknown option '${name}' of ${owner}; ${hint}`);
  }
}
