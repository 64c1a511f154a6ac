import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import express5 from 'express';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

/** Both Express majors the middleware supports, to run HTTP suites on each. */
export const EXPRESS_VERSIONS: Array<{ name: string; express: typeof express5 }> = [
  { name: 'Express 5', express: express5 },
  { name: 'Express 4', express: express4 },
];

/** A running server on loopback and how to reach and stop it. */
export interface Running {
  port: number;
  close(): Promise<void>;
}

/** Starts `app` on a free loopback port. */
export async function listen(app: Express): Promise<Running> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What {@link request} returns: status, headers and the raw (never decompressed) body bytes. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/**
 * One request with Node's own client: unlike supertest it sends no default `Accept-Encoding`
 * and never decodes the body, so tests see exactly the bytes and headers on the wire.
 */
export function request(
  port: number,
  path: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      // One Host for every server a test starts (unless it sets its own): the key covers the
      // port, and instances behind one site see the site's Host, not their own ports.
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: '127.0.0.1', ...options.headers }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * A promise for the next `count` writes of `cache`. Create it before the request whose answer
 * should be stored: the write happens after the response has been sent.
 */
export function whenSet(cache: { on(event: 'set', listener: (payload: { key: string; ttl: number }) => void): () => void }, count = 1): Promise<Array<{ key: string; ttl: number }>> {
  const writes = new Promise<Array<{ key: string; ttl: number }>>((resolve, reject) => {
    const seen: Array<{ key: string; ttl: number }> = [];
    // Unref'd, and the rejection marked handled below: a test that fails before awaiting this
    // must not keep its worker alive, nor leave an unhandled rejection 5 s later.
    const timer = setTimeout(() => {
      off();
      reject(new Error(`expected ${count} cache write(s), saw ${seen.length}`));
    }, 5_000).unref();
    const off = cache.on('set', (payload) => {
      seen.push(payload);
      if (seen.length >= count) {
        off();
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
  writes.catch(() => undefined);
  return writes;
}

/** Closes the keep-alive sockets of {@link request}. */
export function destroyAgent(): void {
  agent.destroy();
}
