import { type OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** The status and headers of a response at the moment the handler's bytes reached this layer. */
export interface CapturedHead {
  status: number;
  /**
   * Lower-case names, as `res.getHeaders()` reports them: the headers the handler set after
   * capture began. A header that was already on the response then (set by a middleware mounted
   * before the cache: `X-Request-Id`, `X-RateLimit-Remaining`, CORS) and still has the same value
   * is left out, so it is never stored nor replayed over the next request's own value.
   */
  headers: OutgoingHttpHeaders;
}

/** What a captured response looked like when it ended. */
export interface CapturedResponse extends CapturedHead {
  /** The body bytes, or `undefined` when it grew past the limit and was dropped. */
  body: Buffer | undefined;
}

/** Callbacks of {@link captureResponse}. */
export interface CaptureHooks {
  /**
   * Runs once, before the first header or byte leaves this layer; headers may still be changed.
   * Returning `'not-modified'` answers the client `304 Not Modified` instead (RFC 9110 §15.4.5:
   * no content, the validators kept) while the full response is still captured for storage;
   * that is how the cache answers a conditional request it had the origin answer in full.
   */
  onHead?: (head: CapturedHead) => void | 'not-modified';
  /** Runs after the response has been handed on, so storing never delays the client. */
  onEnd: (captured: CapturedResponse) => void;
}

type Chunk = string | Buffer | Uint8Array;

/** Headers describing content, which a 304 does not carry (RFC 9110 §15.4.5). */
const CONTENT_FIELDS: readonly string[] = ['content-length', 'content-type', 'content-encoding', 'content-range', 'transfer-encoding'];

function toBuffer(chunk: Chunk, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

type HeaderValue = OutgoingHttpHeaders[string];

function sameValue(a: HeaderValue, b: HeaderValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => String(item) === String(b[i]));
  }
  return String(a) === String(b);
}

/** `headers` without the ones `before` already had with the same value. */
function ownHeaders(headers: OutgoingHttpHeaders, before: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const own: OutgoingHttpHeaders = {};
  // for-in, not Object.entries: getHeaders() objects have no prototype, so nothing is inherited,
  // and no array of pairs is built on every miss.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const earlier = before[name];
    if (earlier !== undefined && sameValue(earlier, value)) continue;
    own[name] = value;
  }
  return own;
}

/** Headers passed to `writeHead` as an object or a flat `[name, value, ...]` array, lower-cased. */
function writeHeadHeaders(args: unknown[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const last = args[args.length - 1];
  if (Array.isArray(last)) {
    for (let i = 0; i + 1 < last.length; i += 2) out[String(last[i]).toLowerCase()] = last[i + 1] as string;
  } else if (last !== null && typeof last === 'object') {
    for (const [name, value] of Object.entries(last as Record<string, unknown>)) {
      if (value !== undefined) out[name.toLowerCase()] = value as string | number | string[];
    }
  }
  return out;
}

type Method = 'writeHead' | 'write' | 'end';
type Wrappers = Pick<ServerResponse, Method>;

const METHODS: readonly Method[] = ['writeHead', 'write', 'end'];

/** The wrappers of the captures under way, by response (see {@link route}). */
const ACTIVE = new WeakMap<ServerResponse, Wrappers>();
/**
 * How many responses {@link ACTIVE} holds: with none, a routed call (every hit's) skips the
 * lookup. A capture whose response never ends (a handler that hangs) keeps it above zero, which
 * only costs the lookup again, never a wrong answer.
 */
let activeCount = 0;
/** Prototypes routed to {@link ACTIVE}, with the methods they had of their own before. */
const ROUTED = new WeakMap<object, Partial<Wrappers>>();
/** Node's `ServerResponse.prototype`, shared by every server: never routed, a layer goes over it. */
const NODE_RESPONSE = ServerResponse.prototype as object;
/** The layer over {@link NODE_RESPONSE}, made on first use. */
let nodeLayer: object | undefined;

/**
 * Routes `proto`'s `writeHead`, `write` and `end` to the capture under way on a response, else to
 * what `proto` had: its own method, or its parent's looked up at the call (so a method patched
 * there later is still the one called, and a reference someone kept works after the capture).
 * Express gives each application its own response prototype (`app.response`), so this happens
 * once per application and touches only the applications that cache.
 *
 * Why not assign the wrappers to each response, as `compression` does, or move each response
 * onto a layer: Express gives every response its prototype with `Object.setPrototypeOf`, and V8
 * then caches no transitions for it, so each property added builds a new hidden class (about
 * 4 µs per property under load, three per miss and three more to restore them), and moving it
 * again cost about a tenth of a miss's CPU (see bench/README.md, "Miss path", third
 * pass). With the prototype routed, a capture costs one `WeakMap` insert.
 */
function route(proto: object): void {
  const own: Partial<Wrappers> = {};
  for (const method of METHODS) if (Object.hasOwn(proto, method)) (own as Record<Method, unknown>)[method] = (proto as Wrappers)[method];
  const parent = Object.getPrototypeOf(proto) as Wrappers;
  const routed = (method: Method): PropertyDescriptor => ({
    value: function captured(this: ServerResponse, ...args: unknown[]): unknown {
      const target = (activeCount === 0 ? undefined : ACTIVE.get(this)?.[method]) ?? own[method] ?? parent[method];
      return (target as (...a: unknown[]) => unknown).apply(this, args);
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperties(proto, { writeHead: routed('writeHead'), write: routed('write'), end: routed('end') });
  ROUTED.set(proto, own);
}

/**
 * What `method` is on `proto` without any routing: the first method up the chain that is not a
 * routed one (a routed prototype's own method from before it was routed, else its parent's). A
 * mounted Express app's response prototype sits over its parent app's, and both may be routed:
 * a capture's wrapper must call past both, or it would call itself.
 */
function unrouted<M extends Method>(proto: object, method: M): Wrappers[M] {
  for (let at: object | null = proto; at !== null; at = Object.getPrototypeOf(at) as object | null) {
    const own = ROUTED.get(at);
    if (own !== undefined) {
      if (own[method] !== undefined) return own[method];
    } else if (Object.hasOwn(at, method)) {
      return (at as Wrappers)[method];
    }
  }
  return (NODE_RESPONSE as Wrappers)[method];
}

/** The response's methods as they were before the capture, and what puts them back. */
interface Installed {
  originals: Wrappers;
  uninstall(): void;
}

/**
 * Puts `wrappers` in front of the response's methods. When a layer mounted before the cache
 * already wrapped one of them (an own property, e.g. `compression`), or a capture is already
 * under way (two caches on one route), they are wrapped by assignment over those, which costs
 * nothing extra.
 */
function install(res: ServerResponse, wrappers: Wrappers): Installed {
  let proto = Object.getPrototypeOf(res) as object | null;
  if (proto === null || Object.getPrototypeOf(proto) === null || ACTIVE.has(res) || METHODS.some((method) => Object.hasOwn(res, method))) {
    const originals: Wrappers = { writeHead: res.writeHead, write: res.write, end: res.end };
    res.writeHead = wrappers.writeHead;
    res.write = wrappers.write;
    res.end = wrappers.end;
    return {
      originals,
      uninstall: () => {
        res.write = originals.write;
        res.end = originals.end;
        res.writeHead = originals.writeHead;
      },
    };
  }
  if (proto === NODE_RESPONSE) {
    if (nodeLayer === undefined) route((nodeLayer = Object.create(NODE_RESPONSE) as object));
    Object.setPrototypeOf(res, nodeLayer);
    proto = nodeLayer;
  }
  if (!ROUTED.has(proto)) route(proto);
  ACTIVE.set(res, wrappers);
  activeCount++;
  return {
    originals: { writeHead: unrouted(proto, 'writeHead'), write: unrouted(proto, 'write'), end: unrouted(proto, 'end') },
    uninstall: () => {
      if (ACTIVE.delete(res)) activeCount--;
    },
  };
}

/**
 * Tees everything the handler sends through `res.write`/`res.end` (which `res.send` and
 * `res.json` end in) into a buffer, while passing it on unchanged. The originals are saved
 * before wrapping and restored at `end`, in the way `compression` does.
 *
 * The head (status and headers) is taken the first time the handler's output reaches this
 * layer (`writeHead`, `write` or `end`), before it is passed on. That is what keeps the stored
 * bytes and headers in agreement whatever the mount order: a `compression` mounted before the
 * cache sets `Content-Encoding` only after that moment, over bytes this layer saw uncompressed;
 * one mounted after it has already set `Content-Encoding` and hands this layer compressed bytes.
 *
 * Headers already on `res` when this is called belong to the layers that ran before the cache;
 * they are snapshotted here and left out of the captured head unless the handler changed them
 * (headers passed to `writeHead` are always the handler's).
 */
export function captureResponse(res: ServerResponse, maxBytes: number, hooks: CaptureHooks): void {
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  let head: CapturedHead | undefined;
  let notModified = false;
  // getHeaders() returns a fresh object, but array values are shared: copy those in place.
  const before = res.getHeaders();
  for (const name in before) {
    const value = before[name];
    if (Array.isArray(value)) before[name] = [...value];
  }

  const takeHead = (status: number, extra: OutgoingHttpHeaders | undefined): void => {
    if (head !== undefined) return;
    const own = ownHeaders(res.getHeaders(), before);
    head = { status, headers: extra === undefined ? own : { ...own, ...extra } };
    if (hooks.onHead?.(head) === 'not-modified') {
      notModified = true;
      res.statusCode = 304;
      for (const name of CONTENT_FIELDS) res.removeHeader(name);
    }
  };

  const collect = (chunk: unknown, encoding: unknown): void => {
    if (chunks === undefined || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return;
    const buffer = toBuffer(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
    size += buffer.length;
    if (size > maxBytes) {
      chunks = undefined;
      return;
    }
    // Copy: a handler may reuse its buffer after write() returns. A string was just encoded
    // into a buffer nobody else holds, so it is kept as it is.
    chunks.push(typeof chunk === 'string' ? buffer : Buffer.from(buffer));
  };

  const writeHead = function writeHead(this: ServerResponse, statusCode: number, ...rest: unknown[]): ServerResponse {
    takeHead(statusCode, writeHeadHeaders(rest));
    if (notModified) {
      // The handler's own head is replaced by the 304's: the headers it passed are on `res` now.
      for (const [name, value] of Object.entries(writeHeadHeaders(rest))) if (!CONTENT_FIELDS.includes(name) && value !== undefined) res.setHeader(name, value);
      return (installed.originals.writeHead as (...args: unknown[]) => ServerResponse).call(this, 304);
    }
    return (installed.originals.writeHead as (...args: unknown[]) => ServerResponse).call(this, statusCode, ...rest);
  } as ServerResponse['writeHead'];

  const write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    takeHead(res.statusCode, undefined);
    collect(chunk, rest[0]);
    if (notModified) return true;
    return (installed.originals.write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];

  const end = function end(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    takeHead(res.statusCode, undefined);
    collect(chunk, rest[0]);
    installed.uninstall();
    const captured = head as CapturedHead;
    try {
      if (notModified) return (installed.originals.end as (...args: unknown[]) => ServerResponse).call(this, ...[chunk, ...rest].filter((arg) => typeof arg === 'function'));
      return (installed.originals.end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } finally {
      // Even when the client is gone and ending throws, the fill gets its answer.
      hooks.onEnd({
        status: captured.status,
        headers: captured.headers,
        body: chunks === undefined ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
      });
    }
  } as ServerResponse['end'];

  const installed = install(res, { writeHead, write, end });
}
