import type { ServerResponse } from 'node:http';

/**
 * Stale-if-error for responses (RFC 5861 §4): watches the handler's answer and, when it is a
 * 5xx whose headers are not yet sent, discards it and calls `serveStale` instead. Express's
 * error handler ends through `res.end` too, so thrown errors are covered. A handler that
 * flushed its headers itself (`writeHead`, `flushHeaders`) cannot be replaced.
 *
 * After the swap, the handler's further writes go nowhere: writing after `end` would make Node
 * emit an `error` event nobody listens to.
 */
export function guardWithStale(res: ServerResponse, serveStale: (end: ServerResponse['end']) => void): void {
  const originalWrite = res.write;
  const originalEnd = res.end;
  let decided = false;

  const swapped = (): boolean => {
    if (decided) return false;
    decided = true;
    res.write = originalWrite;
    res.end = originalEnd;
    if (res.statusCode < 500 || res.headersSent) return false;
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.write = (() => true) as ServerResponse['write'];
    res.end = function discard(this: ServerResponse) {
      return this;
    } as ServerResponse['end'];
    serveStale(originalEnd);
    return true;
  };

  res.write = function write(this: ServerResponse, ...args: unknown[]): boolean {
    if (swapped()) return true;
    return (originalWrite as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse['write'];

  res.end = function end(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (swapped()) return this;
    return (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['end'];
}
