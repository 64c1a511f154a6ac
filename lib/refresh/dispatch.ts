import { type IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';

// Runs a request through an Express app (any Node `(req, res)` handler) without a socket or a
// listening port. Written here rather than taken from `light-my-request`: Express replaces the
// prototypes of `req` and `res` with its own (`app.request`, `app.response`), which drops the
// `write`/`end` that library's response overrides to collect the answer. Here the answer is
// not collected at all: the cache middleware on the route captures and stores it, so real
// `http` objects over a socket that discards its bytes are all it takes, on Express 4 and 5.

/** A request to run through an app. */
export interface SyntheticRequest {
  method: string;
  /** The path and query, as a client sends it (`/charts/top?limit=10`). */
  url: string;
  headers: IncomingHttpHeaders;
}

/** A Node request handler: an Express app, or anything with its call signature. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A socket that goes nowhere: what the response writes is discarded. */
class NullSocket extends Duplex {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly remoteFamily = 'IPv4';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;

  override _read(): void {
    // Nothing ever arrives: the request's body is ended on its own stream.
  }

  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    callback();
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }
}

/** How long a dispatched request may take before it is given up (its handler never ended), in ms. */
const DISPATCH_TIMEOUT_MS = 30_000;

/**
 * Runs `request` through `app` and resolves with the status its answer had (0 when the
 * handler never answered within 30 s). Never rejects; a handler's own error is Express' to
 * answer (a 500).
 * @internal
 */
export function dispatch(app: RequestListener, request: SyntheticRequest, mark?: (req: IncomingMessage) => void): Promise<number> {
  return new Promise((resolve) => {
    const socket = new NullSocket();
    const req = new IncomingMessage(socket as never);
    req.method = request.method;
    req.url = request.url;
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.headers = { ...request.headers };
    req.rawHeaders = Object.entries(req.headers).flatMap(([name, value]) => (Array.isArray(value) ? value.flatMap((v) => [name, v]) : value === undefined ? [] : [name, value]));
    req.complete = true;
    req.push(null);
    mark?.(req);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    let settled = false;
    const done = (status: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(status);
      socket.destroy();
    };
    const timer = setTimeout(() => done(0), DISPATCH_TIMEOUT_MS);
    timer.unref();
    res.on('finish', () => done(res.statusCode));
    res.on('close', () => done(res.writableEnded ? res.statusCode : 0));
    try {
      app(req, res);
    } catch {
      done(0);
    }
  });
}
