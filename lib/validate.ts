import { InvalidOptionError } from './errors';

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
 * A scope name (`character`, `content`, ...) and an optional id within it. An id may not contain
 * `:`: a scope's keys are `{scope}:{id}` and its sub-keys `{scope}:{id}:…`, so the entries of an
 * id `a:b` would be sub-keys of `a` and invalidating `a` would remove them. Rejecting the id says
 * so at once; escaping it would only help keys this package builds, not the ones apps write.
 * @internal
 */
export function resolveScope(scope: unknown, id: unknown): { scope: string; id: string | undefined } {
  if (typeof scope !== 'string' || scope === '') throw new InvalidOptionError('scope', `expected a non-empty string, got ${String(scope)}`);
  if (id === undefined) return { scope, id: undefined };
  if ((typeof id !== 'string' || id === '') && (typeof id !== 'number' || !Number.isFinite(id))) {
    throw new InvalidOptionError('id', `expected a non-empty string or a finite number, got ${String(id)}`);
  }
  const text = String(id);
  if (text.includes(':')) {
    throw new InvalidOptionError(
      'id',
      `"${text}" contains ":", which separates a ${scope} id from its sub-keys (${scope}:{id}:…): invalidating "${text.slice(0, text.indexOf(':'))}" would remove its entries too; use ids without ":" (e.g. encodeURIComponent(id))`,
    );
  }
  return { scope, id: text };
}
