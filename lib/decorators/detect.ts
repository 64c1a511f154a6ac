import { type StoredCacheMetadata, classOfMetadata, inheritFunctionMetadata, recordLegacy, recordStandard } from './metadata';

/** An async method as the decorators see it. @internal */
export type AsyncMethod = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * The type of the decorators returned by `Cacheable(...)` and `CacheEvict(...)`: applicable to
 * an async method as a TC39 standard decorator (TypeScript 5 without `experimentalDecorators`)
 * or as a legacy one (`experimentalDecorators`, the NestJS world).
 *
 * @example
 * ```ts
 * const cacheCharacter: CacheMethodDecorator = Cacheable({ scope: 'character' });
 * class CharacterService {
 *   @cacheCharacter async getCharacter(id: string): Promise<Character> { ... }
 * }
 * ```
 */
export interface CacheMethodDecorator {
  /** TC39 standard method decorator. */
  <This, Fn extends (this: This, ...args: never[]) => Promise<unknown>>(value: Fn, context: ClassMethodDecoratorContext<This>): Fn;
  /** Legacy (`experimentalDecorators`) method decorator. */
  <Fn extends (...args: never[]) => Promise<unknown>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<Fn>,
  ): TypedPropertyDescriptor<Fn>;
}

/** What one decorator application found out about the method it decorates. @internal */
export interface MethodSite {
  mode: 'legacy' | 'standard';
  method: string | symbol;
  isStatic: boolean;
  original: AsyncMethod;
  /** The declaring class's name; in standard mode the class is only known once `this` is. */
  className(thisArg: unknown): string;
  record(entry: StoredCacheMetadata): void;
  /** Puts `wrapper` in place of the method; returns what the decorator must return. */
  install(wrapper: AsyncMethod): unknown;
}

interface StandardContext {
  kind: string;
  name: string | symbol;
  static: boolean;
  metadata?: unknown;
}

function isStandardContext(value: unknown): value is StandardContext {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { addInitializer?: unknown }).addInitializer === 'function'
  );
}

// Our own wrappers return promises without being `async` functions (an async wrapper would add
// a microtask hop to every hit); they are registered here so stacked decorators accept them.
const PROMISE_WRAPPERS = new WeakSet<object>();

/** Marks a function that always returns a promise as async for the checks below. @internal */
export function markAsync<F extends object>(fn: F): F {
  PROMISE_WRAPPERS.add(fn);
  return fn;
}

function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === 'function' && (Object.prototype.toString.call(fn) === '[object AsyncFunction]' || PROMISE_WRAPPERS.has(fn));
}

const nameOf = (name: string | symbol): string => (typeof name === 'symbol' ? name.toString() : `"${name}"`);

function notAsync(decorator: string, where: string): TypeError {
  return new TypeError(
    `@${decorator} needs an async method, but ${where} is not declared async. ` +
      'Declare it async; if another decorator wraps it in a plain function, put @' +
      `${decorator} closest to the method.`,
  );
}

/**
 * Works out which decorator protocol called us and checks the target is an async method,
 * throwing a TypeError naming the misuse (field, getter, setter, accessor, class, parameter, sync
 * method) at decoration time.
 * @internal
 */
export function methodSite(decorator: string, args: readonly unknown[]): MethodSite {
  const [first, second, third] = args;
  if (args.length === 2 && isStandardContext(second)) return standardSite(decorator, first, second);
  if (args.length >= 2 && (typeof second === 'string' || typeof second === 'symbol') && first !== null && (typeof first === 'object' || typeof first === 'function')) {
    return legacySite(decorator, first, second, third);
  }
  throw new TypeError(`@${decorator} can only decorate methods; it was applied to ${args.length === 1 ? 'a class' : 'something else'}`);
}

function standardSite(decorator: string, value: unknown, context: StandardContext): MethodSite {
  const where = `method ${nameOf(context.name)}`;
  if (context.kind !== 'method') {
    const what = context.kind === 'accessor' ? 'an auto-accessor' : `a ${context.kind}`;
    throw new TypeError(`@${decorator} can only decorate async methods, but ${nameOf(context.name)} is ${what}`);
  }
  if (!isAsyncFunction(value)) throw notAsync(decorator, where);
  let owner: string | undefined;
  return {
    mode: 'standard',
    method: context.name,
    isStatic: context.static,
    original: value as AsyncMethod,
    className(thisArg) {
      if (owner !== undefined) return owner;
      const start = context.static ? thisArg : (thisArg as { constructor?: unknown } | null | undefined)?.constructor;
      const cls = classOfMetadata(start, context.metadata);
      // Only a found declaring class is remembered: a fallback must not stick for other callers.
      if (cls) owner = cls.name;
      return cls?.name ?? (typeof start === 'function' ? start.name : 'anonymous');
    },
    record: (entry) => recordStandard(context.metadata, entry),
    install(wrapper) {
      inheritFunctionMetadata(wrapper, value as AsyncMethod);
      return wrapper;
    },
  };
}

function legacySite(decorator: string, target: object, key: string | symbol, descriptor: unknown): MethodSite {
  const isStatic = typeof target === 'function';
  const className = isStatic ? (target as { name: string }).name : (target.constructor as { name?: string } | undefined)?.name ?? 'anonymous';
  const where = `${className}.${typeof key === 'symbol' ? key.toString() : key}`;
  if (typeof descriptor === 'number') throw new TypeError(`@${decorator} can only decorate async methods, but it was applied to a parameter of ${where}`);
  const desc = descriptor as PropertyDescriptor | undefined;
  // TypeScript passes no descriptor for a field; Babel passes one with an `initializer`.
  if (desc === undefined || desc === null || (typeof desc === 'object' && 'initializer' in desc)) {
    throw new TypeError(`@${decorator} can only decorate async methods, but ${where} is a field`);
  }
  if (desc.get || desc.set) {
    throw new TypeError(`@${decorator} can only decorate async methods, but ${where} is ${desc.get ? 'a getter' : 'a setter'}`);
  }
  if (typeof desc.value !== 'function') throw new TypeError(`@${decorator} can only decorate async methods, but ${where} is not a function`);
  // With emitDecoratorMetadata, a method typed to return a Promise counts as async even when an
  // inner decorator already replaced it with a plain wrapper function.
  const returnType: unknown = Reflect.getMetadata('design:returntype', target, key);
  if (!isAsyncFunction(desc.value) && returnType !== Promise) throw notAsync(decorator, where);
  const original = desc.value as AsyncMethod;
  return {
    mode: 'legacy',
    method: key,
    isStatic,
    original,
    className: () => className,
    record: (entry) => recordLegacy(target, entry),
    install(wrapper) {
      inheritFunctionMetadata(wrapper, original);
      return { ...desc, value: wrapper };
    },
  };
}
