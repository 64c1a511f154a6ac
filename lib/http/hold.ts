import type { ServerResponse } from 'node:http';

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders'];

/**
 * Holds a response's head until some work finishes: the first time the handler's output reaches
 * this layer (`writeHead`, `write`, `end` or `flushHeaders`), `atHead(status)` is called with the
 * status about to be sent. When it returns a promise, that call and every later one are queued
 * and replayed in order once the promise settles (either way) or `timeoutMs` has passed, so the
 * client sees nothing before the work is done. When it returns `undefined`, the response goes on
 * untouched.
 *
 * This is how a write route invalidates before it answers (RFC 9111 §4.4 asks that a cache
 * invalidate on a successful unsafe request; a client that reads right after its write must not
 * get the old answer): the status is known at the head, and nothing has left the process yet.
 *
 * Methods are wrapped by assignment (as `compression` does) and put back before the replay, so
 * layers mounted later (a cache's capture) wrap over these and see the calls in the same order.
 * @internal
 *
 * @example
 * ```ts
 * holdResponse(res, (status) => (status < 300 ? cache.invalidateScope('character', id) : undefined), 100);
 * ```
 */
export function holdResponse(res: ServerResponse, atHead: (status: number) => PromiseLike<unknown> | undefined, timeoutMs: number): void {
  const originals = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  } as const;
  // Methods that were not own properties: restoring them means removing ours.
  const owned = new Set<Method>(METHODS.filter((method) => !Object.hasOwn(res, method)));
  let queue: Array<{ method: Method; args: unknown[] }> | undefined;
  let decided = false;

  const wrappers = new Map<Method, unknown>();
  // Put back only what is still ours: a layer mounted later (compression) may have wrapped over
  // a method, and keeps calling through the wrapper, which passes straight on once released.
  const restore = (): void => {
    const record = res as unknown as Record<string, unknown>;
    for (const method of METHODS) {
      if (record[method] !== wrappers.get(method)) continue;
      if (owned.has(method)) delete record[method];
      else record[method] = originals[method];
    }
  };
  const call = (method: Method, args: unknown[]): unknown => (originals[method] as (...a: unknown[]) => unknown).apply(res, args);

  const release = (): void => {
    const pending = queue ?? [];
    queue = undefined;
    restore();
    for (const { method, args } of pending) {
      try {
        call(method, args);
      } catch {
        // The client went away meanwhile: nothing more to deliver.
        return;
      }
    }
  };

  const intercept = (method: Method) =>
    function held(this: ServerResponse, ...args: unknown[]): unknown {
      if (!decided) {
        decided = true;
        const status = method === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
        let work: PromiseLike<unknown> | undefined;
        try {
          work = atHead(status);
        } catch {
          work = undefined;
        }
        if (work === undefined) {
          restore();
          return call(method, args);
        }
        queue = [];
        const timer = setTimeout(release, timeoutMs);
        Promise.resolve(work).then(
          () => {
            clearTimeout(timer);
            if (queue !== undefined) release();
          },
          () => {
            clearTimeout(timer);
            if (queue !== undefined) release();
          },
        );
      }
      if (queue === undefined) return call(method, args);
      queue.push({ method, args });
      // What the real methods return: `write` says whether to keep writing (the replay handles
      // backpressure), the others return the response for chaining.
      return method === 'write' ? true : method === 'flushHeaders' ? undefined : res;
    };

  for (const method of METHODS) {
    const wrapper = intercept(method);
    wrappers.set(method, wrapper);
    (res as unknown as Record<string, unknown>)[method] = wrapper;
  }
}
