import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../errors';
import { escapeScopeId } from '../keys';

// Method keys are built on every call, hits included, so arguments are hashed as one canonical
// string through node:crypto rather than with object-hash (tens of microseconds per call).

/** Builds the cache key of one call. @internal */
export type KeyBuilder = (thisArg: unknown, args: readonly unknown[]) => string;

function canonical(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? 'n:-0' : `n:${value}`;
    case 'bigint':
      return `i:${value}`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'undefined':
      return 'U';
    case 'symbol':
    case 'function':
      // Neither has a value that means the same thing in another process or after a restart.
      throw new TypeError(`cannot build a cache key from a ${typeof value} argument; give the decorator a "key" option`);
  }
  if (value === null) return 'N';
  const object = value as object;
  if (seen.has(object)) throw new TypeError('cannot build a cache key from a circular argument; give the decorator a "key" option');
  seen.add(object);
  try {
    if (object instanceof Date) return `D:${object.getTime()}`;
    if (Buffer.isBuffer(object)) return `B:${object.toString('base64')}`;
    if (ArrayBuffer.isView(object)) return `V:${object.constructor.name}:${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')}`;
    if (Array.isArray(object)) return `[${object.map((item) => canonical(item, seen)).join(',')}]`;
    if (object instanceof Map) {
      return `M{${[...object].map(([k, v]) => `${canonical(k, seen)}=>${canonical(v, seen)}`).sort().join(',')}}`;
    }
    if (object instanceof Set) return `S{${[...object].map((item) => canonical(item, seen)).sort().join(',')}}`;
    if (object instanceof RegExp) return `R:${String(object)}`;
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    // Ids such as MongoDB's ObjectId or decimal types say what they mean through toJSON.
    if (typeof toJSON === 'function') return `J:${canonical(toJSON.call(object), seen)}`;
    const proto: unknown = Object.getPrototypeOf(object);
    const tag = proto === Object.prototype || proto === null ? '' : (object.constructor as { name?: string } | undefined)?.name ?? '?';
    const fields = Object.keys(object)
      .sort()
      .filter((k) => (object as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((object as Record<string, unknown>)[k], seen)}`);
    return `${tag}{${fields.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}

/** Drops trailing `undefined` arguments, so `get(id)` and `get(id, undefined)` share a key. */
function trimmed(args: readonly unknown[]): readonly unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return end === args.length ? args : args.slice(0, end);
}

/**
 * A stable sha1 (hex) of method arguments: equal for deep-equal arguments whatever the order of
 * object keys or of `Map`/`Set` insertion, different for `1` and `'1'`.
 * @internal
 */
export function hashArgs(args: readonly unknown[]): string {
  return createHash('sha1').update(canonical(trimmed(args), new Set())).digest('hex');
}

function isKeyPrimitive(value: unknown): value is string | number | bigint | boolean {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'bigint' || type === 'boolean';
}

/** `{scope}:{first}` (the id escaped with `escapeScopeId`; plus `:{hash of the rest}`) for a primitive first argument, else `{scope}:{hash}`. @internal */
export function scopeKey(scope: string): KeyBuilder {
  return (_thisArg, all) => {
    const args = trimmed(all);
    const first = args[0];
    if (!isKeyPrimitive(first)) return `${scope}:${hashArgs(args)}`;
    // Escaped as the invalidation helpers escape ids, so invalidateScope(scope, 'a:b') reaches it.
    const id = escapeScopeId(String(first));
    return args.length === 1 ? `${scope}:${id}` : `${scope}:${id}:${hashArgs(args.slice(1))}`;
  };
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDER_BODY = /^(\d+)((?:\.[A-Za-z_$][\w$]*)*)$/;

/**
 * Compiles a key template such as `'character:{0}'` or `'user:{0.id}:posts:{1}'` once, at
 * decoration time. Throws {@link InvalidOptionError} on a placeholder that is not an argument
 * index (optionally followed by property names).
 * @internal
 */
export function templateKey(template: string): KeyBuilder {
  const parts: Array<string | { index: number; path: string[] }> = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const body = PLACEHOLDER_BODY.exec(match[1] as string);
    if (!body) {
      throw new InvalidOptionError('key', `bad placeholder "${match[0]}" in "${template}": use {0}, {1}, ... or {0.property}`);
    }
    parts.push(template.slice(last, match.index), { index: Number(body[1]), path: (body[2] as string).split('.').slice(1) });
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  return (_thisArg, args) => {
    let key = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        key += part;
        continue;
      }
      let value: unknown = args[part.index];
      for (const name of part.path) value = value === null || value === undefined ? undefined : (value as Record<string, unknown>)[name];
      key += isKeyPrimitive(value) || value === null || value === undefined ? String(value) : hashArgs([value]);
    }
    return key;
  };
}

/** Calls a user key function and checks it returned a usable key. @internal */
export function functionKey(keyOf: (...args: never[]) => unknown): KeyBuilder {
  return (thisArg, args) => {
    const key = keyOf.apply(thisArg, args as never[]);
    if (typeof key !== 'string' || key === '') {
      throw new TypeError(`the "key" function returned ${typeof key === 'string' ? 'an empty string' : String(key)}; it must return a non-empty string`);
    }
    return key;
  };
}
