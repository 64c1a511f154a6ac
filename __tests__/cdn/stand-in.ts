import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a CDN API stand-in saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/**
 * A loopback HTTP server standing in for a CDN's purge API (the real APIs are unreachable
 * here): it records every request and answers with the next scripted status (200 when the
 * script is empty) and `answer` as JSON.
 */
export class StandIn {
  readonly seen: SeenRequest[] = [];
  /** Statuses for the next requests, in order. */
  readonly statuses: number[] = [];
  /** The JSON body of the next answers (per request, in order; the last one repeats). */
  answers: unknown[] = [{ status: 'ok' }];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Kept as text.
        }
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const answer = this.answers.length > 1 ? this.answers.shift() : this.answers[0];
        res.statusCode = this.statuses.shift() ?? 200;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
