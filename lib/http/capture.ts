import type { ServerResponse } from 'node:http';

/** What a captured response looked like when it ended. */
export interface CapturedBody {
  /** The body bytes, or `undefined` when it grew past the limit and was dropped. */
  body: Buffer | undefined;
}

type Chunk = string | Buffer | Uint8Array;

function toBuffer(chunk: Chunk, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Tees everything the handler sends through `res.write`/`res.end` (which `res.send` and
 * `res.json` end in) into a buffer, while passing it on unchanged. The originals are saved
 * before wrapping and restored at `end`, in the way `compression` does. `onEnd` runs after the
 * response has been handed to Node, so storing never delays the client.
 */
export function captureBody(res: ServerResponse, maxBytes: number, onEnd: (captured: CapturedBody) => void): void {
  const originalWrite = res.write;
  const originalEnd = res.end;
  let chunks: Buffer[] | undefined = [];
  let size = 0;

  const collect = (chunk: unknown, encoding: unknown): void => {
    if (chunks === undefined || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return;
    const buffer = toBuffer(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
    size += buffer.length;
    if (size > maxBytes) {
      chunks = undefined;
      return;
    }
    // Copy: a handler may reuse its buffer after write() returns.
    chunks.push(Buffer.from(buffer));
  };

  res.write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    collect(chunk, rest[0]);
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];

  res.end = function end(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    collect(chunk, rest[0]);
    res.write = originalWrite;
    res.end = originalEnd;
    const result = (originalEnd as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    onEnd({ body: chunks === undefined ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    return result;
  } as ServerResponse['end'];
}
